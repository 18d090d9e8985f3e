-- name: seller-of-record
-- description: Invoiced, refunded, disbursed and outstanding per seller of record (AWS_INC, AWS_EUROPE, …), invoice month and currency; sales through non-AWS-Inc sellers of record appear only in these feeds
-- param from: first invoice day included (default: invoice_date > current_date − 90 days, AWS's billed-revenue window)
-- param to: last invoice day included (default: none)
-- param broker: only this seller of record; an empty or missing broker_id counts as AWS_INC (default: all)
-- param currency: only this pricing currency (default: all)
-- column "Broker ID": the AWS entity that sold (broker_id); empty or missing (un-backfilled history) counts as AWS_INC
-- column "Month": first day of the invoice month (UTC) of the billing lines
-- column "Currency": pricing currency
-- column "Invoices": distinct invoice ids with a line in the group
-- column "Invoiced": gross revenue invoiced to buyers: SELLER_REV_SHARE, INVOICED net of FORGIVEN, without a reseller's cost of goods (= billed-revenue gross_revenue)
-- column "Refunded": SELLER_REV_SHARE_REFUND and _CREDIT, negative (= billed-revenue gross_refund)
-- column "Listing Fees": AWS_REV_SHARE with its refunds and credits, negative (= billed-revenue listing_fee + listing_fee_refund)
-- column "Seller Net": every balance-impacting INVOICED and FORGIVEN amount: what the seller is owed for these invoices
-- column "Disbursed": net paid out to the seller for these invoices: minus the DISBURSED line amounts (a failed disbursement's reversal nets it out)
-- column "Outstanding": Seller Net − Disbursed: still to be collected or paid out

WITH lines AS (
  SELECT
    CASE WHEN broker_id IS NULL OR broker_id = '' THEN 'AWS_INC' ELSE broker_id END AS broker,
    date_trunc('month', invoice_date) AS month,
    currency,
    invoice_id,
    action,
    transaction_type,
    balance_impacting,
    amount,
    coalesce(charge_variant, '') = 'RESALE' AND coalesce(charge_side, '') = 'BUYING' AS is_cost_of_goods
  FROM billing_event_current
  WHERE transaction_type NOT LIKE 'DISBURSEMENT%'
    AND (CASE WHEN $from IS NULL THEN invoice_date > date_add('day', -90, current_date)
              ELSE invoice_date >= $from END)
    AND ($to IS NULL OR invoice_date < $to)
    AND ($currency IS NULL OR currency = $currency)
)
SELECT
  broker AS "Broker ID",
  CAST(month AS DATE) AS "Month",
  currency AS "Currency",
  count(DISTINCT nullif(invoice_id, '')) AS "Invoices",
  sum(CASE WHEN transaction_type = 'SELLER_REV_SHARE' AND action IN ('INVOICED', 'FORGIVEN')
            AND NOT is_cost_of_goods THEN amount ELSE 0 END) AS "Invoiced",
  sum(CASE WHEN transaction_type IN ('SELLER_REV_SHARE_REFUND', 'SELLER_REV_SHARE_CREDIT')
            AND action IN ('INVOICED', 'FORGIVEN') AND NOT is_cost_of_goods THEN amount ELSE 0 END) AS "Refunded",
  sum(CASE WHEN transaction_type IN ('AWS_REV_SHARE', 'AWS_REV_SHARE_REFUND', 'AWS_REV_SHARE_CREDIT')
            AND action IN ('INVOICED', 'FORGIVEN') THEN amount ELSE 0 END) AS "Listing Fees",
  sum(CASE WHEN balance_impacting = 1 AND action IN ('INVOICED', 'FORGIVEN') THEN amount ELSE 0 END) AS "Seller Net",
  -sum(CASE WHEN action = 'DISBURSED' THEN amount ELSE 0 END) AS "Disbursed",
  sum(CASE WHEN balance_impacting = 1 AND action IN ('INVOICED', 'FORGIVEN') THEN amount ELSE 0 END)
    + sum(CASE WHEN action = 'DISBURSED' THEN amount ELSE 0 END) AS "Outstanding"
FROM lines
WHERE $broker IS NULL OR broker = $broker
GROUP BY broker, month, currency
ORDER BY "Broker ID", "Month", "Currency"
