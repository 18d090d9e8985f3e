-- name: disbursement-by-product
-- description: Disbursed amounts per transaction, product and disbursement, with payer, end customer and subscriber, for cash application by bank trace ID (AMMP disbursement report, section 1)
-- param from: first disbursement day included (default: disbursement date after today − 90 days)
-- param to: last disbursement day included (default: none)
-- param broker: only line items sold by this AWS entity, e.g. AWS_INC or AWS_EUROPE; a missing broker counts as AWS_INC (default: all)
-- param currency: only line items billed in this currency, e.g. USD (default: all)
-- column "Payer AWS Account ID": AWS account number of the payer (the from-account of the line items that are not AWS fees), current version
-- column "Payer Company Name": company of the payer's address (tax address, else the invoice's billing address, else mailing address)
-- column "Payer Email Domain": email domain of that address
-- column "Payer City": city of that address
-- column "Payer State": state or region of that address
-- column "Payer Country": country code of that address
-- column "Payer Postal Code": postal code of that address
-- column "End Customer AWS Account ID": AWS account number of the account that used the product
-- column "End Customer Company Name": company of the end customer's address (tax, else billing, else mailing)
-- column "End Customer Email Domain": email domain of that address
-- column "End Customer City": city of that address
-- column "End Customer State": state or region of that address
-- column "End Customer Country": country code of that address
-- column "End Customer Postal Code": postal code of that address
-- column "Subscriber AWS Account ID": AWS account number of the agreement's acceptor (agreement version in force at the invoice date)
-- column "Subscriber Company Name": company of the subscriber's address (tax, else mailing)
-- column "Subscriber Email Domain": email domain of that address
-- column "Subscriber City": city of that address
-- column "Subscriber State": state or region of that address
-- column "Subscriber Country": country code of that address
-- column "Subscriber Postal Code": postal code of that address
-- column "Product Title": current product title
-- column "Product Code": current product code
-- column "Reseller AWS Account ID": AWS account number of the agreement's proposer when it is not the seller (channel partner), else empty
-- column "Reseller Company Name": company of the reseller's mailing address, when there is a reseller
-- column "Seller Rev": disbursed SELLER_REV_SHARE (sign of the invoice: positive is paid to the seller), rounded to cents
-- column "AWS Ref Fee": disbursed AWS_REV_SHARE listing fee (negative), rounded to cents
-- column "Seller Rev Refund": disbursed SELLER_REV_SHARE_REFUND (negative), rounded to cents
-- column "AWS Ref Fee Refund": disbursed AWS_REV_SHARE_REFUND (positive), rounded to cents
-- column "Seller Rev Credit": disbursed SELLER_REV_SHARE_CREDIT, rounded to cents
-- column "AWS Ref Fee Credit": disbursed AWS_REV_SHARE_CREDIT, rounded to cents
-- column "Net Amount": sum of the eight rounded amount columns (rev, fee, refunds, credits, seller sales tax and its refund)
-- column "Seller Sales Tax": disbursed SELLER_TAX_SHARE, rounded to cents
-- column "Seller Sales Tax Refund": disbursed SELLER_TAX_SHARE_REFUND, rounded to cents
-- column "Transaction Reference ID": transaction reference of the buyer's charge (a separate listing-fee invoice is mapped to its charge)
-- column "Opportunity Name": resale authorization name of the offer in force at the invoice date (CPPO)
-- column "Opportunity Description": resale authorization description of that offer
-- column "Disbursement Date": date of the DISBURSEMENT event
-- column "Payment Due Date": payment due date of the buyer's invoice
-- column "Bank Trace ID": bank trace ID of the disbursement, to match the bank deposit
-- column "Broker ID": AWS entity that sold (AWS_INC, AWS_EUROPE, …); missing means AWS_INC

WITH billing AS (
    -- The events the report reads: disbursements and their lines, listing fees, and the charges
    -- of brokers other than AWS_INC. billing_event_current picks each event's current row; its
    -- columns are read from the table by that row's lineage, so that they are not carried
    -- through the view's de-duplication sort (4 times faster at 1 M events).
    SELECT billing_event_id, parent_billing_event_id, disbursement_billing_event_id, action,
           transaction_type, transaction_reference_id, product_id, agreement_id, invoice_id,
           invoice_date, payment_due_date, from_account_id, end_user_account_id,
           billing_address_id, amount, currency, bank_trace_id,
           CASE WHEN broker_id IS NULL OR broker_id = '' THEN 'AWS_INC' ELSE broker_id END AS broker_id
    FROM billingeventfeed_v1
    JOIN (SELECT _source_key, _source_line FROM billing_event_current) cur
        USING (_source_key, _source_line)
    WHERE action = 'DISBURSED' OR transaction_type = 'DISBURSEMENT'
       OR (action = 'INVOICED' AND transaction_type LIKE 'AWS_REV_SHARE%')
       OR (transaction_type LIKE 'SELLER_REV_SHARE%' AND broker_id NOT IN ('', 'AWS_INC'))
),
disbursement AS (
    SELECT billing_event_id AS disbursement_id, invoice_date AS disbursement_date, bank_trace_id
    FROM billing
    WHERE transaction_type = 'DISBURSEMENT'
      AND (CASE WHEN $from IS NULL THEN invoice_date > date_add('day', -90, current_date)
                ELSE invoice_date >= $from END)
      AND ($to IS NULL OR invoice_date < $to)
),
-- Listing fees invoiced apart from the buyer's charge (AWS_EUROPE): the charge is their parent.
-- As AWS, every disbursed line of a listing-fee invoice takes the invoice, date, transaction
-- reference, payer, address and agreement of each charge that invoice bills a fee for: one
-- copy per charge and fee, so a fee invoice for several charges counts each fee line several
-- times. (AWS's mapping also repeats a line, other than SELLER_REV_SHARE*, once per listing fee
-- whose parent is the line's parent: that needs a parent '' or a buyer charge, and a disbursed
-- line's parent is its own invoiced event, so that part is left out.)
charge_of_listing_invoice AS (
    SELECT fee.invoice_id AS listing_fee_invoice_id, charge.invoice_date,
           charge.transaction_reference_id, charge.from_account_id, charge.billing_address_id,
           charge.payment_due_date, charge.agreement_id
    FROM (SELECT DISTINCT parent_billing_event_id, invoice_id, transaction_reference_id
          FROM billing
          WHERE broker_id <> 'AWS_INC' AND action = 'INVOICED'
            AND transaction_type LIKE 'AWS_REV_SHARE%') fee
    JOIN billing charge ON charge.billing_event_id = fee.parent_billing_event_id
    WHERE charge.broker_id <> 'AWS_INC' AND charge.transaction_type LIKE 'SELLER_REV_SHARE%'
),
disbursed_line AS (
    SELECT coalesce(c.transaction_reference_id, l.transaction_reference_id) AS transaction_reference_id,
           l.product_id,
           coalesce(c.agreement_id, l.agreement_id) AS agreement_id,
           l.broker_id, l.end_user_account_id, d.bank_trace_id, d.disbursement_id,
           d.disbursement_date,
           coalesce(c.invoice_date, l.invoice_date) AS invoice_date,
           coalesce(c.payment_due_date, l.payment_due_date) AS payment_due_date,
           coalesce(c.from_account_id, l.from_account_id) AS from_account_id,
           coalesce(c.billing_address_id, l.billing_address_id) AS billing_address_id,
           l.transaction_type, -l.amount AS amount
    FROM billing l
    JOIN disbursement d ON d.disbursement_id = l.disbursement_billing_event_id
    LEFT JOIN charge_of_listing_invoice c ON c.listing_fee_invoice_id = l.invoice_id
    WHERE l.action = 'DISBURSED'
      AND ($broker IS NULL OR l.broker_id = $broker)
      AND ($currency IS NULL OR l.currency = $currency)
),
per_disbursement AS (
    SELECT transaction_reference_id, product_id, agreement_id, broker_id, end_user_account_id,
           bank_trace_id, invoice_date, payment_due_date,
           max(billing_address_id) AS billing_address_id,
           max(disbursement_date) AS disbursement_date,
           sum(CASE WHEN transaction_type = 'SELLER_REV_SHARE' THEN amount ELSE 0 END) AS seller_rev,
           sum(CASE WHEN transaction_type = 'AWS_REV_SHARE' THEN amount ELSE 0 END) AS aws_fee,
           sum(CASE WHEN transaction_type = 'SELLER_REV_SHARE_REFUND' THEN amount ELSE 0 END) AS seller_rev_refund,
           sum(CASE WHEN transaction_type = 'AWS_REV_SHARE_REFUND' THEN amount ELSE 0 END) AS aws_fee_refund,
           sum(CASE WHEN transaction_type = 'SELLER_REV_SHARE_CREDIT' THEN amount ELSE 0 END) AS seller_rev_credit,
           sum(CASE WHEN transaction_type = 'AWS_REV_SHARE_CREDIT' THEN amount ELSE 0 END) AS aws_fee_credit,
           sum(CASE WHEN transaction_type = 'SELLER_TAX_SHARE' THEN amount ELSE 0 END) AS seller_tax,
           sum(CASE WHEN transaction_type = 'SELLER_TAX_SHARE_REFUND' THEN amount ELSE 0 END) AS seller_tax_refund,
           max(CASE WHEN transaction_type NOT LIKE '%AWS%' AND transaction_type NOT LIKE 'BALANCE_ADJUSTMENT'
                    THEN from_account_id END) AS payer_account_id
    FROM disbursed_line
    GROUP BY transaction_reference_id, product_id, agreement_id, broker_id, end_user_account_id,
             bank_trace_id, disbursement_id, invoice_date, payment_due_date
),
seller AS (
    SELECT DISTINCT from_account_id AS seller_account_id
    FROM billing
    WHERE action = 'INVOICED' AND transaction_type = 'AWS_REV_SHARE' AND amount <= 0
),
opportunity AS (
    -- As AWS: one row per name and description an opportunity ever had, so a renamed resale
    -- authorization repeats its rows; '' (no resale) matches the offers without one.
    SELECT DISTINCT opportunity_id, opportunity_name, opportunity_description FROM offer_history
),
account AS (
    SELECT a.account_id, a.aws_account_id, a.tax_address_id, a.mailing_address_id,
           m.company_name AS mailing_company_name
    FROM account_current a LEFT JOIN address_current m ON m.address_id = a.mailing_address_id
),
enriched AS (
    SELECT p.*, ag.acceptor_account_id, ag.proposer_account_id, o.opportunity_id,
           coalesce(nullif(pay.tax_address_id, ''), nullif(p.billing_address_id, ''),
                    nullif(pay.mailing_address_id, '')) AS payer_address_id,
           coalesce(nullif(eu.tax_address_id, ''), nullif(p.billing_address_id, ''),
                    nullif(eu.mailing_address_id, '')) AS end_user_address_id,
           coalesce(nullif(sub.tax_address_id, ''), nullif(sub.mailing_address_id, '')) AS subscriber_address_id,
           pay.aws_account_id AS payer_aws_account_id,
           eu.aws_account_id AS end_user_aws_account_id,
           sub.aws_account_id AS subscriber_aws_account_id
    FROM per_disbursement p
    LEFT JOIN agreement_history ag ON ag.agreement_id = p.agreement_id
        AND p.invoice_date >= ag.valid_from AND p.invoice_date < ag.valid_to
    LEFT JOIN offer_history o ON o.offer_id = ag.offer_id
        AND p.invoice_date >= o.valid_from AND p.invoice_date < o.valid_to
    LEFT JOIN account sub ON sub.account_id = ag.acceptor_account_id
    LEFT JOIN account pay ON pay.account_id = p.payer_account_id
    LEFT JOIN account eu ON eu.account_id = p.end_user_account_id
)
SELECT e.payer_aws_account_id AS "Payer AWS Account ID",
       pa.company_name AS "Payer Company Name",
       pa.email_domain AS "Payer Email Domain",
       pa.city AS "Payer City",
       pa.state_or_region AS "Payer State",
       pa.country_code AS "Payer Country",
       pa.postal_code AS "Payer Postal Code",
       e.end_user_aws_account_id AS "End Customer AWS Account ID",
       ea.company_name AS "End Customer Company Name",
       ea.email_domain AS "End Customer Email Domain",
       ea.city AS "End Customer City",
       ea.state_or_region AS "End Customer State",
       ea.country_code AS "End Customer Country",
       ea.postal_code AS "End Customer Postal Code",
       e.subscriber_aws_account_id AS "Subscriber AWS Account ID",
       sa.company_name AS "Subscriber Company Name",
       sa.email_domain AS "Subscriber Email Domain",
       sa.city AS "Subscriber City",
       sa.state_or_region AS "Subscriber State",
       sa.country_code AS "Subscriber Country",
       sa.postal_code AS "Subscriber Postal Code",
       pr.title AS "Product Title",
       pr.product_code AS "Product Code",
       CASE WHEN e.proposer_account_id <> (SELECT seller_account_id FROM seller)
            THEN rs.aws_account_id END AS "Reseller AWS Account ID",
       CASE WHEN e.proposer_account_id <> (SELECT seller_account_id FROM seller)
            THEN rs.mailing_company_name END AS "Reseller Company Name",
       round(e.seller_rev, 2) AS "Seller Rev",
       round(e.aws_fee, 2) AS "AWS Ref Fee",
       round(e.seller_rev_refund, 2) AS "Seller Rev Refund",
       round(e.aws_fee_refund, 2) AS "AWS Ref Fee Refund",
       round(e.seller_rev_credit, 2) AS "Seller Rev Credit",
       round(e.aws_fee_credit, 2) AS "AWS Ref Fee Credit",
       round(e.seller_rev, 2) + round(e.aws_fee, 2) + round(e.seller_rev_refund, 2)
         + round(e.aws_fee_refund, 2) + round(e.seller_rev_credit, 2) + round(e.aws_fee_credit, 2)
         + round(e.seller_tax, 2) + round(e.seller_tax_refund, 2) AS "Net Amount",
       round(e.seller_tax, 2) AS "Seller Sales Tax",
       round(e.seller_tax_refund, 2) AS "Seller Sales Tax Refund",
       e.transaction_reference_id AS "Transaction Reference ID",
       op.opportunity_name AS "Opportunity Name",
       op.opportunity_description AS "Opportunity Description",
       e.disbursement_date AS "Disbursement Date",
       e.payment_due_date AS "Payment Due Date",
       e.bank_trace_id AS "Bank Trace ID",
       e.broker_id AS "Broker ID"
FROM enriched e
JOIN product_current pr ON pr.product_id = e.product_id
LEFT JOIN address_current pa ON pa.address_id = e.payer_address_id
LEFT JOIN address_current ea ON ea.address_id = e.end_user_address_id
LEFT JOIN address_current sa ON sa.address_id = e.subscriber_address_id
LEFT JOIN opportunity op ON op.opportunity_id = e.opportunity_id
LEFT JOIN account rs ON rs.account_id = e.proposer_account_id
ORDER BY "Disbursement Date", "Bank Trace ID", "Transaction Reference ID", "Product Code", "End Customer AWS Account ID", "Payer AWS Account ID", "Net Amount", "Opportunity Name", "Opportunity Description"
