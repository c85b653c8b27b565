"""PostgreSQL: a transfer in one statement, ``paylane_transfer(...)`` (docs/ledger.md, "The transfer function").

Across a network every statement of a transfer is a round trip, and the wallet
rows stay locked from the first (the lock) to COMMIT: a merchant wallet that
many people pay is then bound by round trips, not by work. The function does,
in one statement and in the house's order: lock both wallets (``FOR UPDATE``,
ascending id), check (who may send and receive, funds, then the daily limit,
then the receiver's ceiling), write both balances and the sender's daily
counter, append the TRANSFER row with its SHA-256 (the same canonical form as
``ledger/hashing.py``, built here from the values it writes). A refusal
writes nothing and comes back as the error code of ``wallets.errors``: the
service raises the matching error, and its durable transaction rolls back.

``paylane_json_string`` is ``json.dumps(text, ensure_ascii=True)``: the
note's part of the canonical form.

SQLite has no stored functions: its twin is the Python path of
``wallets.services`` (the same checks in the same order), and
``tests/wallets/test_transfer_twin.py`` runs one table of inputs through both.
The SQL is frozen here as applied; a later change is a new migration.
"""

from django.db import migrations

from ledger.migration_operations import VendorSQL

JSON_STRING = r"""
CREATE OR REPLACE FUNCTION paylane_json_string(p_text text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    v_out text := '';
    v_char text;
    v_code integer;
BEGIN
    -- Printable ASCII without quote or backslash: as it is (every note typed in English).
    IF p_text !~ '[^ -~]' AND strpos(p_text, '"') = 0 AND strpos(p_text, '\') = 0 THEN
        RETURN '"' || p_text || '"';
    END IF;
    FOREACH v_char IN ARRAY regexp_split_to_array(p_text, '') LOOP
        v_code := ascii(v_char);
        IF v_char = '"' THEN v_out := v_out || '\"';
        ELSIF v_char = '\' THEN v_out := v_out || '\\';
        ELSIF v_code = 10 THEN v_out := v_out || '\n';
        ELSIF v_code = 13 THEN v_out := v_out || '\r';
        ELSIF v_code = 9 THEN v_out := v_out || '\t';
        ELSIF v_code = 8 THEN v_out := v_out || '\b';
        ELSIF v_code = 12 THEN v_out := v_out || '\f';
        ELSIF v_code BETWEEN 32 AND 126 THEN v_out := v_out || v_char;
        ELSIF v_code < 65536 THEN v_out := v_out || '\u' || lpad(to_hex(v_code), 4, '0');
        ELSE  -- outside the BMP: a UTF-16 surrogate pair, as Python writes it
            v_code := v_code - 65536;
            v_out := v_out || '\u' || to_hex(55296 + (v_code >> 10)) || '\u' || to_hex(56320 + (v_code & 1023));
        END IF;
    END LOOP;
    RETURN '"' || v_out || '"';
END;
$$
"""

TRANSFER = r"""
CREATE OR REPLACE FUNCTION paylane_transfer(
    p_sender bigint,
    p_receiver bigint,
    p_amount numeric,
    p_note text,
    p_currency text,
    p_default_limit numeric,
    p_max_balance numeric,
    p_time_zone text
) RETURNS TABLE (
    outcome text,
    entry_id integer,
    created_at timestamptz,
    row_hash text,
    sender_balance numeric,
    sender_version bigint,
    receiver_balance numeric,
    receiver_version bigint,
    spent numeric,
    daily_limit numeric,
    sender_wallet_id bigint,
    sender_username text,
    sender_first_name text,
    sender_last_name text,
    sender_mobile text,
    sender_verified_at timestamptz,
    receiver_wallet_id bigint,
    receiver_username text,
    receiver_first_name text,
    receiver_last_name text,
    receiver_mobile text,
    receiver_verified_at timestamptz
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    w record;
    s record;
    r record;
    v_has_sender boolean := false;
    v_has_receiver boolean := false;
    v_now timestamptz;
    v_today date;
    v_spent numeric;
    v_limit numeric;
    v_s_balance numeric;
    v_s_version bigint;
    v_r_balance numeric;
    v_r_version bigint;
    v_canonical text;
    v_hash text;
    v_id integer;
BEGIN
    IF p_sender = p_receiver THEN
        RETURN QUERY SELECT 'self_transfer'::text, NULL::integer, NULL::timestamptz, NULL::text,
            NULL::numeric, NULL::bigint, NULL::numeric, NULL::bigint, NULL::numeric, NULL::numeric,
            NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz,
            NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz;
        RETURN;
    END IF;

    -- 1. Lock: both wallets of active users, FOR UPDATE in ascending id order (two transfers
    --    in opposite directions between one pair queue instead of deadlocking).
    FOR w IN
        SELECT wl.id, wl.user_id, wl.balance, wl.version, wl.spent_on, wl.spent_today, wl.daily_limit,
               u.username, u.first_name, u.last_name, pr.mobile_number, pr.mobile_verified_at
        FROM wallets_wallet wl
        JOIN wallets_user u ON u.id = wl.user_id
        LEFT JOIN wallets_profile pr ON pr.user_id = u.id
        WHERE u.is_active AND wl.user_id IN (p_sender, p_receiver)
        ORDER BY wl.id
        FOR UPDATE OF wl
    LOOP
        IF w.user_id = p_sender THEN s := w; v_has_sender := true;
        ELSE r := w; v_has_receiver := true;
        END IF;
    END LOOP;
    -- The one clock reading, under the locks: a wallet's movements read it in their commit order,
    -- and the day of the limit is the day of the entry's time.
    v_now := clock_timestamp();

    -- 2. Check: who may send and receive, funds, then the daily limit (the order of wallets.services).
    IF NOT v_has_sender THEN
        outcome := 'validation_error'; RETURN NEXT; RETURN;
    END IF;
    IF s.mobile_verified_at IS NULL THEN
        outcome := 'mobile_not_verified'; RETURN NEXT; RETURN;
    END IF;
    -- (Two IFs: PL/pgSQL does not promise to skip the right side of an OR, and an unassigned
    -- record cannot be read.)
    IF NOT v_has_receiver THEN
        outcome := 'recipient_not_found'; RETURN NEXT; RETURN;
    END IF;
    IF r.mobile_verified_at IS NULL THEN  -- an unverified account answers as an unknown one
        outcome := 'recipient_not_found'; RETURN NEXT; RETURN;
    END IF;
    IF s.balance < p_amount THEN
        outcome := 'insufficient_funds'; sender_balance := s.balance; RETURN NEXT; RETURN;
    END IF;
    v_today := (v_now AT TIME ZONE p_time_zone)::date;
    v_spent := CASE WHEN s.spent_on = v_today THEN s.spent_today ELSE 0 END;
    v_limit := COALESCE(s.daily_limit, p_default_limit);
    IF v_spent + p_amount > v_limit THEN
        outcome := 'daily_limit_exceeded'; spent := v_spent; daily_limit := v_limit; RETURN NEXT; RETURN;
    END IF;
    IF r.balance + p_amount > p_max_balance THEN
        outcome := 'invalid_amount'; RETURN NEXT; RETURN;
    END IF;

    -- 3. Write: both balances (each version counts its balance changes), the sender's daily counter.
    UPDATE wallets_wallet
    SET balance = balance - p_amount, version = version + 1, spent_on = v_today, spent_today = v_spent + p_amount
    WHERE id = s.id
    RETURNING balance, version INTO v_s_balance, v_s_version;
    UPDATE wallets_wallet
    SET balance = balance + p_amount, version = version + 1
    WHERE id = r.id
    RETURNING balance, version INTO v_r_balance, v_r_version;

    -- 4. Append: the TRANSFER row, hashed as ledger/hashing.py hashes it (sorted keys, no
    --    whitespace, two-place decimals, UTC time with microseconds; form 2 when there is a note).
    v_canonical := '{"amount":"' || p_amount::numeric(14, 2)::text || '"'
        || CASE WHEN p_note <> '' THEN ',"corrects_id":null' ELSE '' END
        || ',"created_at":"' || to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00"'
        || ',"currency":' || paylane_json_string(p_currency)
        || ',"failure_reason":""'
        || CASE WHEN p_note <> '' THEN ',"note":' || paylane_json_string(p_note) ELSE '' END
        || ',"receiver_balance_after":"' || v_r_balance::numeric(14, 2)::text || '"'
        || ',"receiver_id":' || p_receiver::text
        || ',"receiver_version_after":' || v_r_version::text
        || ',"sender_balance_after":"' || v_s_balance::numeric(14, 2)::text || '"'
        || ',"sender_id":' || p_sender::text
        || ',"sender_version_after":' || v_s_version::text
        || ',"status":"SUCCESS","transaction_type":"TRANSFER"'
        || ',"v":' || CASE WHEN p_note <> '' THEN '2' ELSE '1' END
        || '}';
    v_hash := encode(sha256(convert_to(v_canonical, 'UTF8')), 'hex');
    INSERT INTO ledger_transaction (
        transaction_type, status, amount, currency, sender_id, receiver_id,
        sender_balance_after, sender_version_after, receiver_balance_after, receiver_version_after,
        failure_reason, created_at, row_hash, note, corrects_id
    ) VALUES (
        'TRANSFER', 'SUCCESS', p_amount, p_currency, p_sender, p_receiver,
        v_s_balance, v_s_version, v_r_balance, v_r_version,
        '', v_now, v_hash, p_note, NULL
    ) RETURNING id INTO v_id;

    RETURN QUERY SELECT 'ok'::text, v_id, v_now, v_hash,
        v_s_balance, v_s_version::bigint, v_r_balance, v_r_version::bigint, (v_spent + p_amount)::numeric, v_limit,
        s.id::bigint, s.username::text, s.first_name::text, s.last_name::text,
        s.mobile_number::text, s.mobile_verified_at,
        r.id::bigint, r.username::text, r.first_name::text, r.last_name::text,
        r.mobile_number::text, r.mobile_verified_at;
END;
$$
"""

REVERSE = [
    "DROP FUNCTION IF EXISTS paylane_transfer(bigint, bigint, numeric, text, text, numeric, numeric, text)",
    "DROP FUNCTION IF EXISTS paylane_json_string(text)",
]


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0010_username_trigram"),
        ("ledger", "0010_history_indexes"),
    ]

    operations = [
        # SQLite: no stored functions; the Python path of wallets.services is the twin.
        VendorSQL(postgresql=([JSON_STRING, TRANSFER], REVERSE), sqlite=([], [])),
    ]
