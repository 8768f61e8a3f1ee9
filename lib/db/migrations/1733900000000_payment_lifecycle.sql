-- Up Migration

-- Holds, captures, voids, expiry and refunds. Expand only: the previous
-- release neither reads nor writes any of it, and every change here is one
-- it cannot notice (new tables, nullable columns, a column with a constant
-- default, constraints that its rows already meet).

-- A hold: a payment authorized with manual capture. Its payment row says the
-- authorization's outcome (AUTHORIZED, as for any payment that passed the
-- checks); this row is the hold's own state, changed only under its lock
-- (capture_payment, void_payment, expire_holds), so exactly one of capture,
-- void and expiry ends it. A HELD hold's amount counts in its payer's
-- balances.pending.
CREATE TABLE holds (
  payment_id       ulid PRIMARY KEY REFERENCES payments (id),
  -- The payer's account and the held amount, as on the payment: the hold's
  -- own checks (captured within held) and the release need them under the
  -- hold's lock without another row.
  payer_account_id ulid NOT NULL,
  amount           bigint NOT NULL CHECK (amount > 0 AND amount <= 9007199254740991),
  expires_at       timestamptz NOT NULL,
  state            text NOT NULL DEFAULT 'HELD' CHECK (state IN ('HELD', 'CAPTURED', 'VOIDED', 'EXPIRED')),
  captured_amount  bigint,
  -- When it left HELD.
  settled_at       timestamptz,
  CONSTRAINT captured_within_held CHECK (captured_amount BETWEEN 1 AND amount),
  CONSTRAINT captured_has_amount CHECK ((state = 'CAPTURED') = (captured_amount IS NOT NULL)),
  CONSTRAINT settled_when_not_held CHECK ((state = 'HELD') = (settled_at IS NULL))
);
-- The expiry sweep's queue: open holds only, so it stays as small as the
-- number of holds waiting.
CREATE INDEX holds_due ON holds (expires_at) WHERE state = 'HELD';

-- One refund asked of a payment that reached the ledger, refunded or declined.
CREATE TABLE refunds (
  id             ulid PRIMARY KEY,
  payment_id     ulid NOT NULL REFERENCES payments (id),
  amount         bigint NOT NULL CHECK (amount > 0 AND amount <= 9007199254740991),
  description    text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  status         text NOT NULL CHECK (status IN ('REFUNDED', 'DECLINED')),
  error_code     text CHECK (error_code IN ('NOT_CAPTURED', 'EXCEEDS_REFUNDABLE', 'INSUFFICIENT_FUNDS')),
  error_message  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT declined_refund_has_reason CHECK ((status = 'DECLINED') = (error_code IS NOT NULL))
);
CREATE INDEX refunds_by_payment ON refunds (payment_id, id);

-- What the payment's refunds moved back so far, kept on the payment row: a
-- refund locks that row, so refunds of one payment are serialised and never
-- exceed what moved (refund_payment checks it; the invariant tests too).
-- A constant default: no table rewrite.
ALTER TABLE payments ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0;
ALTER TABLE payments ADD CONSTRAINT refunded_within_amount
  CHECK (refunded_amount BETWEEN 0 AND amount) NOT VALID;
ALTER TABLE payments VALIDATE CONSTRAINT refunded_within_amount;

-- A refund's entries belong to the refunded payment (payment_id) and name
-- the refund. NOT VALID, then VALIDATE: no lock that blocks payments while
-- the (all NULL) column is checked.
ALTER TABLE ledger_entries ADD COLUMN refund_id ulid;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_refund
  FOREIGN KEY (refund_id) REFERENCES refunds (id) NOT VALID;
ALTER TABLE ledger_entries VALIDATE CONSTRAINT ledger_entries_refund;

-- A RefundPayment key names its refund; payment_id is then the refunded
-- payment. (AuthorizePayment and CapturePayment keys name their payment.)
ALTER TABLE idempotency_keys ADD COLUMN refund_id ulid;

-- balances.pending is what open holds reserve (it was always 0 before). Held
-- money is still the account's, but not available: an account that may not
-- go negative never reserves more than it has.
ALTER TABLE balances ADD CONSTRAINT held_within_balance
  CHECK (allow_negative OR available - pending >= 0) NOT VALID;
ALTER TABLE balances VALIDATE CONSTRAINT held_within_balance;

-- Down Migration

DROP FUNCTION IF EXISTS expire_holds(text[], timestamptz, text);
DROP FUNCTION IF EXISTS refund_payment(text, text, text, text, text, text, text, interval, text, bigint, text, timestamptz, text);
DROP FUNCTION IF EXISTS void_payment(text, text, timestamptz, text);
DROP FUNCTION IF EXISTS capture_payment(text, text, text, text, text, text, text, interval, bigint, timestamptz, text);
ALTER TABLE balances DROP CONSTRAINT held_within_balance;
ALTER TABLE idempotency_keys DROP COLUMN refund_id;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_refund;
ALTER TABLE ledger_entries DROP COLUMN refund_id;
ALTER TABLE payments DROP CONSTRAINT refunded_within_amount;
ALTER TABLE payments DROP COLUMN refunded_amount;
DROP TABLE refunds;
DROP TABLE holds;
