-- name: collections-and-disbursements
-- description: Per invoice line and disbursement: how much was paid out, when, under which bank trace id, how many days after the invoice, and what is still undisbursed
-- param from: first payment due day included (default: payment_due_date > current_date − 90 days, as AWS's collections and disbursements report)
-- param to: last payment due day included (default: none)
-- param broker: only this seller of record; an empty or missing broker_id counts as AWS_INC (default: all)
-- param currency: only this pricing currency (default: all)
-- column "Invoice ID": the line's invoice
-- column "Line Item ID": the invoice line
-- column "Invoice Date": invoice date of the line
-- column "Payment Due Date": payment due date of the line
-- column "Product ID": the line's product
-- column "Broker ID": seller of record; empty or missing counts as AWS_INC
-- column "Currency": pricing currency
-- column "Seller Net": balance-impacting INVOICED and FORGIVEN amounts of the line
-- column "Disbursement Status": DISBURSEMENT (paid out), DISBURSEMENT_FAILURE (a payout that was reversed) or Not disbursed (the part still to be paid out)
-- column "Disbursement Date": date of the disbursement (or of its failure)
-- column "Bank Trace ID": bank trace id of the payout, for cash application
-- column "Disbursement Reference Number": AWS's reference of the payout
-- column "Disbursement Time In Days": days from the invoice date to the disbursement date
-- column "Disbursed Amount": net paid out to the seller for the line by this disbursement (minus its DISBURSED line amounts); for Not disbursed, the remainder

WITH lines AS (
  SELECT
    invoice_id, line_item_id, currency, transaction_type, action, balance_impacting, amount,
    invoice_date, payment_due_date, product_id, disbursement_billing_event_id,
    CASE WHEN broker_id IS NULL OR broker_id = '' THEN 'AWS_INC' ELSE broker_id END AS broker
  FROM billing_event_current
  WHERE transaction_type NOT LIKE 'DISBURSEMENT%'
    AND coalesce(invoice_id, '') <> ''
    AND (CASE WHEN $from IS NULL THEN payment_due_date > date_add('day', -90, current_date)
              ELSE payment_due_date >= $from END)
    AND ($to IS NULL OR payment_due_date < $to)
    AND ($currency IS NULL OR currency = $currency)
),
line_totals AS (
  SELECT invoice_id, line_item_id, currency, broker,
         min(invoice_date) AS invoice_date, max(payment_due_date) AS payment_due_date,
         max(nullif(product_id, '')) AS product_id,
         sum(CASE WHEN balance_impacting = 1 AND action IN ('INVOICED', 'FORGIVEN') THEN amount ELSE 0 END) AS seller_net,
         -sum(CASE WHEN action = 'DISBURSED' THEN amount ELSE 0 END) AS disbursed
  FROM lines
  WHERE $broker IS NULL OR broker = $broker
  GROUP BY invoice_id, line_item_id, currency, broker
),
payouts AS (
  SELECT l.invoice_id, l.line_item_id, l.currency, l.disbursement_billing_event_id,
         -sum(l.amount) AS disbursed_amount
  FROM lines l
  WHERE l.action = 'DISBURSED' AND ($broker IS NULL OR l.broker = $broker)
  GROUP BY l.invoice_id, l.line_item_id, l.currency, l.disbursement_billing_event_id
),
disbursements AS (
  SELECT billing_event_id, transaction_type, invoice_date AS disbursement_date, bank_trace_id,
         disbursement_reference_number
  FROM billing_event_current
  WHERE transaction_type LIKE 'DISBURSEMENT%' AND action = 'DISBURSED'
),
rows AS (
  SELECT t.*, d.transaction_type AS status, d.disbursement_date, d.bank_trace_id,
         d.disbursement_reference_number, p.disbursed_amount
  FROM line_totals t
  JOIN payouts p ON p.invoice_id = t.invoice_id AND p.line_item_id = t.line_item_id AND p.currency = t.currency
  LEFT JOIN disbursements d ON d.billing_event_id = p.disbursement_billing_event_id
  UNION ALL
  SELECT t.*, 'Not disbursed', CAST(NULL AS TIMESTAMP WITH TIME ZONE), CAST(NULL AS VARCHAR),
         CAST(NULL AS VARCHAR), t.seller_net - t.disbursed
  FROM line_totals t
  WHERE t.seller_net - t.disbursed <> 0
)
SELECT
  invoice_id AS "Invoice ID",
  line_item_id AS "Line Item ID",
  invoice_date AS "Invoice Date",
  payment_due_date AS "Payment Due Date",
  product_id AS "Product ID",
  broker AS "Broker ID",
  currency AS "Currency",
  seller_net AS "Seller Net",
  status AS "Disbursement Status",
  disbursement_date AS "Disbursement Date",
  bank_trace_id AS "Bank Trace ID",
  disbursement_reference_number AS "Disbursement Reference Number",
  CASE WHEN disbursement_date IS NOT NULL
       THEN date_diff('day', CAST(invoice_date AS DATE), CAST(disbursement_date AS DATE)) END AS "Disbursement Time In Days",
  disbursed_amount AS "Disbursed Amount"
FROM rows
ORDER BY "Payment Due Date", "Invoice ID", "Line Item ID", "Disbursement Date" NULLS LAST, "Disbursement Status"
