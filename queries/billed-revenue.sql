-- name: billed-revenue
-- description: Billed revenue per buyer invoice line (AWS's line key, spec §4.3/§5.1): what was invoiced, listing fees, taxes, seller net, and how much of it was collected and disbursed.
-- param from: first invoice date to include, inclusive (default: invoice_date >= current_date - 90 days, as AWS's billed_revenue_report)
-- param to: last invoice date to include (default: no upper bound)
-- param broker: AWS seller of record (AWS_INC, AWS_EUROPE, ...); an empty or missing broker_id counts as AWS_INC (default: all)
-- param currency: pricing currency (default: all)
-- column "invoice_date": date of the buyer (purchase) invoice of the line; for a CPPO wholesale line the buyer invoice date (buyer_invoice_date), for a balance adjustment its own date
-- column "payment_due_date": payment due date of the line's invoice
-- column "invoice_id": buyer (purchase) invoice id; for a CPPO wholesale line the buyer invoice (buyer_invoice_id); NULL for a balance adjustment
-- column "listing_fee_invoice_id": separate listing-fee invoice of the line (AWS_EUROPE), else NULL
-- column "wholesale_invoice_id": CPPO wholesale (RESALE) invoice the seller was paid on, else NULL
-- column "payer_aws_account_id": 12-digit AWS account of the payer (buyer, or the reseller for a CPPO wholesale line), as of the invoice date
-- column "payer_company_name": payer's legal name, else company of its tax address, billing address or mailing address
-- column "product_id": product id (legacy product GUIDs mapped to the current id)
-- column "product_title": product title as of the invoice date
-- column "agreement_id": agreement of the line
-- column "disbursement_status": Disbursed / Partially disbursed / Disbursement reversed / Not disbursed (AWS's rules on undisbursed and disbursed net revenue)
-- column "disbursement_date": date of the line's last disbursement (or disbursement failure), NULL if never disbursed
-- column "disburse_bank_trace_id": bank trace ids of the line's disbursements, comma-separated in disbursement order
-- column "gross_revenue": SELLER_REV_SHARE invoiced (net of FORGIVEN), excluding the reseller's cost of goods
-- column "gross_refund": SELLER_REV_SHARE_REFUND and SELLER_REV_SHARE_CREDIT (negative)
-- column "listing_fee": AWS_REV_SHARE (negative)
-- column "listing_fee_refund": AWS_REV_SHARE_REFUND and AWS_REV_SHARE_CREDIT
-- column "seller_tax_share": SELLER_TAX_SHARE the seller remits, outside wholesale (RESALE) invoices
-- column "seller_tax_share_refund": SELLER_TAX_SHARE_REFUND, outside wholesale invoices
-- column "aws_tax_share": AWS_TAX_SHARE on the buyer charge (collected and remitted by AWS; not in seller net unless balance impacting)
-- column "aws_tax_share_refund": AWS_TAX_SHARE_REFUND on the buyer charge
-- column "wholesale_cost": reseller's cost of goods (SELLER_REV_SHARE, RESALE, BUYING side)
-- column "wholesale_cost_refund": refunds/credits of the cost of goods
-- column "wholesale_seller_tax_share": SELLER_TAX_SHARE on a wholesale (RESALE) invoice
-- column "wholesale_seller_tax_share_refund": SELLER_TAX_SHARE_REFUND on a wholesale invoice
-- column "balance_adjustment": BALANCE_ADJUSTMENT amount
-- column "seller_net_revenue": net owed to the seller at invoice time: all columns above except aws_tax_share(_refund), plus balance-impacting AWS tax, OTHER_SELLER_TAX_SHARE(_REFUND) and AWS_INFRA_SHARE
-- column "collected_net_revenue": balance-impacting amounts AWS has collected from the buyer (COLLECTED rows)
-- column "uncollected_net_revenue": seller_net_revenue - collected_net_revenue
-- column "last_collection_date": last COLLECTED action date
-- column "disbursed_net_revenue": net paid out to the seller for this line (minus the sum of its DISBURSED line amounts; a failed disbursement's reversal nets it back out)
-- column "undisbursed_net_revenue": seller_net_revenue - disbursed_net_revenue
-- column "currency": pricing currency
-- column "transaction_reference_id": buyer transaction reference id (else the line's own)
-- column "aws_seller_of_record": broker_id; empty or missing counts as AWS_INC
-- column "silent_internal_report_transaction": AWS's line key: line surrogate id, pricing and disbursement currency

WITH
-- The billing events of billing_event_current (spec §2.2 step A, the view's own rule: for each
-- billing_event_id the row with the latest update_date, then the later delivery; a soft-deleted
-- winner is dropped), computed so that 1 M immutable events need no sort: only ids delivered more
-- than once go through the window.
dup AS (
  SELECT billing_event_id FROM billingeventfeed_v1 GROUP BY billing_event_id HAVING count(*) > 1
),
dup_win AS (
  SELECT billing_event_id, _source_key, _source_line
  FROM (
    SELECT billing_event_id, _source_key, _source_line, delete_date,
           row_number() OVER (PARTITION BY billing_event_id
                              ORDER BY update_date DESC NULLS LAST, _source_key DESC, _source_line DESC) AS rn
    FROM billingeventfeed_v1
    WHERE billing_event_id IN (SELECT billing_event_id FROM dup)
  ) w
  WHERE rn = 1 AND delete_date IS NULL
),
-- The DISBURSEMENT / DISBURSEMENT_FAILURE rows that DISBURSED lines point to (deduplicated by the
-- same rule).
disb AS (
  SELECT disbursement_id, disbursement_type, disbursement_date, bank_trace_id, disbursement_reference_number
  FROM (
    SELECT
      billing_event_id AS disbursement_id,
      transaction_type AS disbursement_type,
      invoice_date AS disbursement_date,
      CASE WHEN bank_trace_id IN ('EMEA_MP_TEST_TRACE_ID', 'testTraceId') THEN NULL ELSE bank_trace_id END AS bank_trace_id,
      nullif(disbursement_reference_number, '') AS disbursement_reference_number,
      action,
      delete_date,
      row_number() OVER (PARTITION BY billing_event_id
                         ORDER BY update_date DESC NULLS LAST, _source_key DESC, _source_line DESC) AS rn
    FROM billingeventfeed_v1
    WHERE transaction_type IN ('DISBURSEMENT', 'DISBURSEMENT_FAILURE')
  ) d
  WHERE rn = 1 AND delete_date IS NULL AND action = 'DISBURSED'
),
-- Every other billing event, with AWS's buyer-invoice-line surrogate id (spec §4.3), its group
-- (I = invoiced or forgiven, C = collected, D = paid in a disbursement or reversed by a
-- disbursement failure) and AWS's amount bucket (billed_revenue_report.sql; every event is in
-- exactly one). As in AWS's SQL, events of an agreement that is not in the agreement feed are
-- left out.
ev AS (
  SELECT
    CASE
      WHEN b.transaction_type = 'BALANCE_ADJUSTMENT'
        THEN 'BALANCE_ADJUSTMENT:' || coalesce(b.recipient_account_id, '') || ':' || coalesce(cast(b.invoice_date AS varchar), '')
      WHEN coalesce(b.buyer_invoice_id, '') = ''
        THEN 'NO_BUYER_INVOICE_FOR:' || coalesce(b.invoice_id, '') || ':' || coalesce(b.line_item_id, '') || ':' || coalesce(b.recipient_account_id, '')
      ELSE b.buyer_invoice_id || ':' || coalesce(b.buyer_line_item_id, '') || ':' || coalesce(b.recipient_account_id, '')
    END AS line_id,
    b.currency,
    nullif(b.disbursement_currency, '') AS dc_raw,
    CASE WHEN d.disbursement_id IS NOT NULL THEN 'D' WHEN b.action = 'COLLECTED' THEN 'C' ELSE 'I' END AS grp,
    d.disbursement_id,
    d.disbursement_type,
    d.disbursement_date,
    d.bank_trace_id,
    d.disbursement_reference_number,
    b.action,
    b.action_date,
    b.amount,
    b.disbursement_amount,
    CASE
      WHEN b.transaction_type = 'SELLER_REV_SHARE'
        THEN CASE WHEN coalesce(b.charge_variant, '') = 'RESALE' AND coalesce(b.charge_side, '') = 'BUYING' THEN 'wholesale_cost' ELSE 'gross_revenue' END
      WHEN b.transaction_type IN ('SELLER_REV_SHARE_REFUND', 'SELLER_REV_SHARE_CREDIT')
        THEN CASE WHEN coalesce(b.charge_variant, '') = 'RESALE' AND coalesce(b.charge_side, '') = 'BUYING' THEN 'wholesale_cost_refund' ELSE 'gross_refund' END
      WHEN b.transaction_type = 'AWS_REV_SHARE' THEN 'listing_fee'
      WHEN b.transaction_type IN ('AWS_REV_SHARE_REFUND', 'AWS_REV_SHARE_CREDIT') THEN 'listing_fee_refund'
      WHEN b.transaction_type = 'SELLER_TAX_SHARE'
        THEN CASE WHEN coalesce(b.invoice_variant, '') = 'RESALE' THEN 'wholesale_seller_tax_share' ELSE 'seller_tax_share' END
      WHEN b.transaction_type = 'SELLER_TAX_SHARE_REFUND'
        THEN CASE WHEN coalesce(b.invoice_variant, '') = 'RESALE' THEN 'wholesale_seller_tax_share_refund' ELSE 'seller_tax_share_refund' END
      -- AWS-remitted tax on the buyer charge (not on a listing fee or a wholesale invoice)
      WHEN b.transaction_type IN ('AWS_TAX_SHARE', 'AWS_TAX_SHARE_REFUND')
           AND coalesce(b.invoice_variant, '') NOT IN ('RESALE', 'LISTING_FEE')
           AND NOT (coalesce(b.invoice_variant, '') = 'PURCHASE' AND coalesce(b.charge_variant, '') = 'LISTING_FEE')
        THEN CASE WHEN b.transaction_type = 'AWS_TAX_SHARE' THEN 'aws_tax_share' ELSE 'aws_tax_share_refund' END
      WHEN b.transaction_type = 'BALANCE_ADJUSTMENT' THEN 'balance_adjustment'
      ELSE 'other'
    END AS bucket,
    -- the part of the amount in AWS's seller_net_revenue: all but AWS-remitted tax that does not
    -- touch the seller's balance
    CASE
      WHEN b.transaction_type IN ('SELLER_REV_SHARE', 'SELLER_REV_SHARE_REFUND', 'SELLER_REV_SHARE_CREDIT',
                                  'AWS_REV_SHARE', 'AWS_REV_SHARE_REFUND', 'AWS_REV_SHARE_CREDIT',
                                  'SELLER_TAX_SHARE', 'SELLER_TAX_SHARE_REFUND',
                                  'OTHER_SELLER_TAX_SHARE', 'OTHER_SELLER_TAX_SHARE_REFUND',
                                  'BALANCE_ADJUSTMENT', 'AWS_INFRA_SHARE', 'INFRA_FEE_PRETAX') THEN b.amount
      WHEN b.transaction_type IN ('AWS_TAX_SHARE', 'AWS_TAX_SHARE_REFUND') AND (b.balance_impacting = 1 OR b.action = 'DISBURSED') THEN b.amount
      ELSE 0
    END AS net_amount,
    -- the buyer (purchase) invoice; events from before invoice_variant existed count as purchase events
    CASE WHEN b.invoice_variant = 'PURCHASE' OR (coalesce(b.invoice_variant, '') = '' AND b.transaction_type <> 'BALANCE_ADJUSTMENT') THEN nullif(b.invoice_id, '')
         WHEN b.invoice_variant = 'RESALE' THEN nullif(b.buyer_invoice_id, '') END AS purchase_invoice_id,
    CASE WHEN b.invoice_variant = 'PURCHASE' OR coalesce(b.invoice_variant, '') = '' OR b.transaction_type = 'BALANCE_ADJUSTMENT' THEN b.invoice_date
         WHEN b.invoice_variant = 'RESALE' THEN b.buyer_invoice_date END AS purchase_invoice_date,
    CASE WHEN b.invoice_variant = 'LISTING_FEE' THEN nullif(b.invoice_id, '') END AS listing_fee_invoice_id,
    CASE WHEN b.invoice_variant = 'RESALE' THEN nullif(b.invoice_id, '') END AS wholesale_invoice_id,
    CASE
      WHEN b.transaction_type LIKE 'AWS%' THEN NULL
      WHEN b.transaction_type IN ('SELLER_REV_SHARE', 'SELLER_REV_SHARE_REFUND', 'SELLER_REV_SHARE_CREDIT')
           AND coalesce(b.charge_variant, '') = 'RESALE' AND coalesce(b.charge_side, '') = 'BUYING' THEN NULL
      WHEN b.transaction_type LIKE '%TAX%' AND b.invoice_variant = 'RESALE' THEN NULL
      WHEN coalesce(b.invoice_id, '') = '' THEN nullif(b.to_account_id, '')              -- balance adjustment: the seller
      WHEN b.from_account_id = b.recipient_account_id THEN nullif(b.to_account_id, '')   -- a refund the seller pays back
      ELSE nullif(b.from_account_id, '')
    END AS payer_account_id,
    nullif(b.billing_address_id, '') AS billing_address_id,
    nullif(b.product_id, '') AS product_id,
    nullif(b.agreement_id, '') AS agreement_id,
    b.payment_due_date,
    coalesce(nullif(b.buyer_transaction_reference_id, ''), nullif(b.transaction_reference_id, '')) AS transaction_reference_id,
    coalesce(nullif(b.broker_id, ''), 'AWS_INC') AS broker
  -- RIGHT JOINs, so that the small lookups rather than the events are the hash tables (the
  -- planner cannot size the lookups; at 10 M billing events the events do not fit in memory).
  FROM (SELECT DISTINCT agreement_id AS known_agreement_id FROM agreement_current) ag
  RIGHT JOIN (disb d
    RIGHT JOIN (dup_win w
      RIGHT JOIN billingeventfeed_v1 b
        ON w.billing_event_id = b.billing_event_id AND w._source_key = b._source_key AND w._source_line = b._source_line)
      ON d.disbursement_id = b.disbursement_billing_event_id)
    ON ag.known_agreement_id = b.agreement_id
  WHERE (w.billing_event_id IS NOT NULL OR (b.delete_date IS NULL AND b.billing_event_id NOT IN (SELECT billing_event_id FROM dup)))
    AND coalesce(b.transaction_type, '') NOT LIKE 'DISBURSEMENT%'
    AND (coalesce(b.agreement_id, '') = ''
         OR (b.invoice_date IS NOT NULL AND ag.known_agreement_id IS NOT NULL))
),
-- The events summed per line and pricing currency, and disbursement currency as delivered.
a1 AS (
  SELECT
    line_id,
    currency,
    dc_raw,
    max(purchase_invoice_id) AS purchase_invoice_id,
    max(purchase_invoice_date) AS purchase_invoice_date,
    max(listing_fee_invoice_id) AS listing_fee_invoice_id,
    max(wholesale_invoice_id) AS wholesale_invoice_id,
    max(payer_account_id) AS payer_account_id,
    max(billing_address_id) AS billing_address_id,
    max(product_id) AS product_id,
    max(agreement_id) AS agreement_id,
    max(payment_due_date) AS payment_due_date,
    max(transaction_reference_id) AS transaction_reference_id,
    max(broker) AS broker,
    sum(CASE WHEN grp = 'I' THEN 1 ELSE 0 END) AS invoiced_events,
    sum(CASE WHEN grp = 'I' AND bucket = 'gross_revenue' THEN amount ELSE 0 END) AS gross_revenue,
    sum(CASE WHEN grp = 'I' AND bucket = 'gross_refund' THEN amount ELSE 0 END) AS gross_refund,
    sum(CASE WHEN grp = 'I' AND bucket = 'listing_fee' THEN amount ELSE 0 END) AS listing_fee,
    sum(CASE WHEN grp = 'I' AND bucket = 'listing_fee_refund' THEN amount ELSE 0 END) AS listing_fee_refund,
    sum(CASE WHEN grp = 'I' AND bucket = 'seller_tax_share' THEN amount ELSE 0 END) AS seller_tax_share,
    sum(CASE WHEN grp = 'I' AND bucket = 'seller_tax_share_refund' THEN amount ELSE 0 END) AS seller_tax_share_refund,
    sum(CASE WHEN grp = 'I' AND bucket = 'aws_tax_share' THEN amount ELSE 0 END) AS aws_tax_share,
    sum(CASE WHEN grp = 'I' AND bucket = 'aws_tax_share_refund' THEN amount ELSE 0 END) AS aws_tax_share_refund,
    sum(CASE WHEN grp = 'I' AND bucket = 'wholesale_cost' THEN amount ELSE 0 END) AS wholesale_cost,
    sum(CASE WHEN grp = 'I' AND bucket = 'wholesale_cost_refund' THEN amount ELSE 0 END) AS wholesale_cost_refund,
    sum(CASE WHEN grp = 'I' AND bucket = 'wholesale_seller_tax_share' THEN amount ELSE 0 END) AS wholesale_seller_tax_share,
    sum(CASE WHEN grp = 'I' AND bucket = 'wholesale_seller_tax_share_refund' THEN amount ELSE 0 END) AS wholesale_seller_tax_share_refund,
    sum(CASE WHEN grp = 'I' AND bucket = 'balance_adjustment' THEN amount ELSE 0 END) AS balance_adjustment,
    sum(CASE WHEN grp = 'I' THEN net_amount ELSE 0 END) AS seller_net,
    sum(CASE WHEN grp = 'D' THEN net_amount ELSE 0 END) AS disbursed_net,
    sum(CASE WHEN grp = 'C' THEN amount ELSE 0 END) AS collected,
    -- seller net still owed, in the disbursement currency: disbursement_amount where the event has
    -- one, else the amount (counted only where the pricing currency is the disbursement currency)
    sum(CASE WHEN grp IN ('I', 'D') AND net_amount <> 0 AND disbursement_amount IS NOT NULL THEN disbursement_amount ELSE 0 END) AS undisbursed_dc,
    sum(CASE WHEN grp IN ('I', 'D') AND net_amount <> 0 AND disbursement_amount IS NULL THEN amount ELSE 0 END) AS undisbursed_without_dc,
    max(CASE WHEN action = 'COLLECTED' THEN action_date END) AS last_collection_date,
    count(disbursement_id) AS disbursed_events,
    max(disbursement_date) AS last_disbursement_date,
    -- 'disbursement date|bank trace id' of each disbursed event, sorted and cut down in line2
    string_agg(CASE WHEN grp = 'D' AND bank_trace_id IS NOT NULL THEN cast(disbursement_date AS varchar) || '|' || bank_trace_id END, ',') AS traces
  FROM ev
  GROUP BY line_id, currency, dc_raw
),
-- One row per AWS line (internal_buyer_invoice_line_item_surrogate_id_with_currency): a missing
-- disbursement currency is the one the line's other events in that pricing currency have.
line AS (
  SELECT
    line_id || '_PricingCurrency:' || coalesce(currency, '') || '_DisbursementCurrency:' || coalesce(disbursement_currency, '') AS line_key,
    line_id,
    currency,
    disbursement_currency,
    max(purchase_invoice_id) AS purchase_invoice_id,
    max(purchase_invoice_date) AS purchase_invoice_date,
    max(listing_fee_invoice_id) AS listing_fee_invoice_id,
    max(wholesale_invoice_id) AS wholesale_invoice_id,
    max(payer_account_id) AS payer_account_id,
    max(billing_address_id) AS billing_address_id,
    max(product_id) AS product_id,
    max(agreement_id) AS agreement_id,
    max(payment_due_date) AS payment_due_date,
    max(transaction_reference_id) AS transaction_reference_id,
    max(broker) AS broker,
    sum(invoiced_events) AS invoiced_events,
    sum(gross_revenue) AS gross_revenue,
    sum(gross_refund) AS gross_refund,
    sum(listing_fee) AS listing_fee,
    sum(listing_fee_refund) AS listing_fee_refund,
    sum(seller_tax_share) AS seller_tax_share,
    sum(seller_tax_share_refund) AS seller_tax_share_refund,
    sum(aws_tax_share) AS aws_tax_share,
    sum(aws_tax_share_refund) AS aws_tax_share_refund,
    sum(wholesale_cost) AS wholesale_cost,
    sum(wholesale_cost_refund) AS wholesale_cost_refund,
    sum(wholesale_seller_tax_share) AS wholesale_seller_tax_share,
    sum(wholesale_seller_tax_share_refund) AS wholesale_seller_tax_share_refund,
    sum(balance_adjustment) AS balance_adjustment,
    sum(seller_net) AS seller_net,
    sum(disbursed_net) AS disbursed_net,
    sum(collected) AS collected,
    sum(undisbursed_dc) + CASE WHEN disbursement_currency = currency THEN sum(undisbursed_without_dc) ELSE 0 END AS undisbursed_dc,
    max(last_collection_date) AS last_collection_date,
    sum(disbursed_events) AS disbursed_events,
    max(last_disbursement_date) AS last_disbursement_date,
    string_agg(traces, ',') AS traces,
    max(dc_fill) AS dc_fill
  FROM (
    SELECT f.*, coalesce(f.dc_raw, f.dc_fill) AS disbursement_currency
    FROM (SELECT a1.*, max(a1.dc_raw) OVER (PARTITION BY a1.line_id, a1.currency) AS dc_fill FROM a1) f
  ) a
  GROUP BY line_id, currency, disbursement_currency
),
-- Invoice id, invoice date and payer are shared by the line in every currency (AWS: windows over
-- the surrogate id).
line2 AS (
  SELECT
    l.*,
    max(l.purchase_invoice_id) OVER (PARTITION BY l.line_id) AS invoice_id,
    max(l.purchase_invoice_date) OVER (PARTITION BY l.line_id) AS invoice_date,
    max(l.payer_account_id) OVER (PARTITION BY l.line_id) AS payer,
    -- AWS's disbursement_flag_status
    CASE
      WHEN l.disbursed_events > 0 AND l.seller_net + l.disbursed_net = 0 THEN 'Disbursed'
      WHEN l.disbursed_events > 0 AND l.disbursed_net = 0 THEN 'Disbursement reversed'
      WHEN l.disbursed_events > 0 AND l.seller_net + l.disbursed_net < 0 THEN 'Disbursed'
      WHEN l.disbursed_events > 0 THEN 'Partially disbursed'
      ELSE 'Not disbursed'
    END AS line_disbursement_status,
    -- each bank trace id once, in the order of the disbursements (AWS's disburse_bank_trace_id)
    CASE WHEN l.disbursed_events > 0 THEN
      array_to_string(array_distinct(string_to_array(
        regexp_replace(array_to_string(array_sort(string_to_array(l.traces, ',')), ','), '[^,|]*[|]', '', 'g'), ',')), ',')
    END AS bank_trace_ids
  FROM line l
),
-- Accounts and products as of a date; the first version also covers everything before it (AWS: 1970-01-01).
acct AS (
  SELECT
    a.*,
    CASE WHEN a.valid_from = min(a.valid_from) OVER (PARTITION BY a.account_id)
         THEN timestamp '1970-01-01 00:00:00' ELSE a.valid_from END AS valid_from_ext
  FROM account_history a
),
prod AS (
  SELECT
    p.product_id,
    p.title,
    p.valid_to,
    CASE WHEN p.valid_from = min(p.valid_from) OVER (PARTITION BY p.product_id)
         THEN timestamp '1970-01-01 00:00:00' ELSE p.valid_from END AS valid_from_ext
  FROM product_history p
),
legacy AS (
  SELECT legacy_id, max(new_id) AS new_id
  FROM legacy_id_mapping_current
  WHERE mapping_type = 'PRODUCT'
  GROUP BY legacy_id
),
-- Lines with product title and payer as of the invoice date.
lines AS (
  SELECT
    l.*,
    coalesce(lg.new_id, l.product_id) AS product_id_resolved,
    pr.title AS product_title,
    pa.aws_account_id AS payer_aws_account_id,
    coalesce(nullif(pa.tax_legal_name, ''), nullif(tax_adr.company_name, ''), nullif(bill_adr.company_name, ''), nullif(mail_adr.company_name, '')) AS payer_company_name
  FROM line2 l
  LEFT JOIN legacy lg ON lg.legacy_id = l.product_id
  LEFT JOIN prod pr ON pr.product_id = coalesce(lg.new_id, l.product_id)
    AND l.invoice_date >= pr.valid_from_ext AND l.invoice_date < pr.valid_to
  LEFT JOIN acct pa ON pa.account_id = l.payer
    AND l.invoice_date >= pa.valid_from_ext AND l.invoice_date < pa.valid_to
  LEFT JOIN address_current tax_adr ON tax_adr.address_id = nullif(pa.tax_address_id, '')
  LEFT JOIN address_current bill_adr ON bill_adr.address_id = l.billing_address_id
  LEFT JOIN address_current mail_adr ON mail_adr.address_id = nullif(pa.mailing_address_id, '')
)
SELECT
  l.invoice_date,
  l.payment_due_date,
  l.invoice_id,
  l.listing_fee_invoice_id,
  l.wholesale_invoice_id,
  l.payer_aws_account_id,
  l.payer_company_name,
  l.product_id_resolved AS product_id,
  l.product_title,
  l.agreement_id,
  l.line_disbursement_status AS disbursement_status,
  l.last_disbursement_date AS disbursement_date,
  l.bank_trace_ids AS disburse_bank_trace_id,
  cast(round(l.gross_revenue, 2) AS decimal(38, 2)) AS gross_revenue,
  cast(round(l.gross_refund, 2) AS decimal(38, 2)) AS gross_refund,
  cast(round(l.listing_fee, 2) AS decimal(38, 2)) AS listing_fee,
  cast(round(l.listing_fee_refund, 2) AS decimal(38, 2)) AS listing_fee_refund,
  cast(round(l.seller_tax_share, 2) AS decimal(38, 2)) AS seller_tax_share,
  cast(round(l.seller_tax_share_refund, 2) AS decimal(38, 2)) AS seller_tax_share_refund,
  cast(round(l.aws_tax_share, 2) AS decimal(38, 2)) AS aws_tax_share,
  cast(round(l.aws_tax_share_refund, 2) AS decimal(38, 2)) AS aws_tax_share_refund,
  cast(round(l.wholesale_cost, 2) AS decimal(38, 2)) AS wholesale_cost,
  cast(round(l.wholesale_cost_refund, 2) AS decimal(38, 2)) AS wholesale_cost_refund,
  cast(round(l.wholesale_seller_tax_share, 2) AS decimal(38, 2)) AS wholesale_seller_tax_share,
  cast(round(l.wholesale_seller_tax_share_refund, 2) AS decimal(38, 2)) AS wholesale_seller_tax_share_refund,
  cast(round(l.balance_adjustment, 2) AS decimal(38, 2)) AS balance_adjustment,
  cast(round(l.seller_net, 2) AS decimal(38, 2)) AS seller_net_revenue,
  cast(round(l.collected, 2) AS decimal(38, 2)) AS collected_net_revenue,
  cast(round(l.seller_net - l.collected, 2) AS decimal(38, 2)) AS uncollected_net_revenue,
  l.last_collection_date,
  cast(-1 * round(l.disbursed_net, 2) AS decimal(38, 2)) AS disbursed_net_revenue,
  cast(round(l.seller_net + l.disbursed_net, 2) AS decimal(38, 2)) AS undisbursed_net_revenue,
  l.currency,
  l.transaction_reference_id,
  l.broker AS aws_seller_of_record,
  l.line_key AS silent_internal_report_transaction
FROM lines l
WHERE l.invoiced_events > 0
  AND (CASE WHEN $from IS NULL THEN l.invoice_date >= date_add('day', -90, current_date) ELSE l.invoice_date >= $from END)
  AND ($to IS NULL OR l.invoice_date < $to)
  AND ($broker IS NULL OR l.broker = $broker)
  AND ($currency IS NULL OR l.currency = $currency)
ORDER BY l.invoice_date, l.invoice_id, l.line_key
