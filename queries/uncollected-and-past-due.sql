-- name: uncollected-and-past-due
-- description: Open balance per invoice with its payment due date, days past due and aging bucket (0-30 / 31-60 / 61-90 / 90+), and for paid invoices how many days late the money came
-- param from: first invoice day included (default: every invoice, whatever its age, so that the 90+ bucket is complete)
-- param to: last invoice day included (default: none)
-- param broker: only this seller of record; an empty or missing broker_id counts as AWS_INC (default: all)
-- param currency: only this currency (default: all)
-- column "Invoice ID": the buyer's invoice (a separate AWS_EUROPE listing-fee invoice counts with the purchase invoice it belongs to)
-- column "Broker ID": seller of record; empty or missing counts as AWS_INC
-- column "Currency": pricing currency
-- column "Payer AWS Account ID": the paying account (from_account_id of the buyer charges; the recipient of a refund-only invoice), 12 digits
-- column "Payer Company Name": the payer's company (mailing address), else its tax legal name
-- column "Invoice Date": earliest invoice date of the invoice's lines
-- column "Payment Due Date": the invoice's payment due date
-- column "Seller Net": every balance-impacting INVOICED and FORGIVEN amount of the invoice
-- column "Disbursed": net paid out to the seller for it (minus its DISBURSED line amounts)
-- column "Open Balance": Seller Net − Disbursed
-- column "Status": Open, Paid (nothing open, something paid out) or Settled (nets to zero, e.g. forgiven)
-- column "Days Past Due": for an open invoice due before today, days from the due date to today
-- column "Aging Bucket": for an open invoice: Not yet due, 0-30, 31-60, 61-90 or 90+ days past due
-- column "Last Disbursement Date": date of the last successful disbursement that paid part of it
-- column "Days Late": for a paid invoice, days from the due date to the last disbursement (negative: early)

WITH lines AS (
  SELECT
    CASE WHEN invoice_variant = 'LISTING_FEE' AND coalesce(buyer_invoice_id, '') <> ''
         THEN buyer_invoice_id ELSE invoice_id END AS invoice,
    CASE WHEN broker_id IS NULL OR broker_id = '' THEN 'AWS_INC' ELSE broker_id END AS broker,
    currency, action, transaction_type, balance_impacting, amount, invoice_date, payment_due_date,
    from_account_id, to_account_id, disbursement_billing_event_id
  FROM billing_event_current
  WHERE transaction_type NOT LIKE 'DISBURSEMENT%'
    AND coalesce(invoice_id, '') <> ''
    AND ($from IS NULL OR invoice_date >= $from)
    AND ($to IS NULL OR invoice_date < $to)
    AND ($currency IS NULL OR currency = $currency)
),
payouts AS (
  SELECT billing_event_id, invoice_date AS disbursement_date
  FROM billing_event_current
  WHERE transaction_type = 'DISBURSEMENT' AND action = 'DISBURSED'
),
failed AS (
  SELECT DISTINCT parent_billing_event_id AS billing_event_id
  FROM billing_event_current
  WHERE transaction_type = 'DISBURSEMENT_FAILURE'
),
invoices AS (
  SELECT
    l.invoice, l.broker, l.currency,
    -- The buyer pays the charges; on a refund-only invoice it is the refund's recipient.
    coalesce(max(CASE WHEN l.transaction_type = 'SELLER_REV_SHARE' THEN l.from_account_id END),
             max(CASE WHEN l.transaction_type LIKE 'SELLER_REV_SHARE_%' THEN l.to_account_id END)) AS payer,
    min(l.invoice_date) AS invoice_date,
    max(l.payment_due_date) AS payment_due_date,
    sum(CASE WHEN l.balance_impacting = 1 AND l.action IN ('INVOICED', 'FORGIVEN') THEN l.amount ELSE 0 END) AS seller_net,
    -sum(CASE WHEN l.action = 'DISBURSED' THEN l.amount ELSE 0 END) AS disbursed,
    max(CASE WHEN l.action = 'DISBURSED' AND f.billing_event_id IS NULL THEN p.disbursement_date END) AS last_disbursement
  -- Written as RIGHT JOINs so that the small payout lookups, not the lines, are the hash
  -- tables: the view's row count is unknown to the planner, and at 10 M billing events the
  -- lines do not fit in memory.
  FROM failed f
  RIGHT JOIN (payouts p
    RIGHT JOIN lines l ON l.disbursement_billing_event_id = p.billing_event_id)
    ON l.disbursement_billing_event_id = f.billing_event_id
  WHERE $broker IS NULL OR l.broker = $broker
  GROUP BY l.invoice, l.broker, l.currency
),
aged AS (
  SELECT i.*,
         seller_net - disbursed AS open_balance,
         CASE WHEN seller_net - disbursed <> 0 AND payment_due_date < current_date
              THEN date_diff('day', CAST(payment_due_date AS DATE), current_date) END AS days_past_due
  FROM invoices i
)
SELECT
  a.invoice AS "Invoice ID",
  a.broker AS "Broker ID",
  a.currency AS "Currency",
  acc.aws_account_id AS "Payer AWS Account ID",
  coalesce(nullif(adr.company_name, ''), acc.tax_legal_name) AS "Payer Company Name",
  a.invoice_date AS "Invoice Date",
  a.payment_due_date AS "Payment Due Date",
  a.seller_net AS "Seller Net",
  a.disbursed AS "Disbursed",
  a.open_balance AS "Open Balance",
  CASE WHEN a.open_balance <> 0 THEN 'Open'
       WHEN a.disbursed <> 0 THEN 'Paid'
       ELSE 'Settled' END AS "Status",
  a.days_past_due AS "Days Past Due",
  CASE WHEN a.open_balance = 0 THEN NULL
       WHEN a.days_past_due IS NULL THEN 'Not yet due'
       WHEN a.days_past_due <= 30 THEN '0-30'
       WHEN a.days_past_due <= 60 THEN '31-60'
       WHEN a.days_past_due <= 90 THEN '61-90'
       ELSE '90+' END AS "Aging Bucket",
  a.last_disbursement AS "Last Disbursement Date",
  CASE WHEN a.open_balance = 0 AND a.last_disbursement IS NOT NULL
       THEN date_diff('day', CAST(a.payment_due_date AS DATE), CAST(a.last_disbursement AS DATE)) END AS "Days Late"
FROM aged a
LEFT JOIN account_current acc ON acc.account_id = a.payer
LEFT JOIN address_current adr ON adr.address_id = acc.mailing_address_id
ORDER BY "Payment Due Date", "Invoice ID", "Currency"
