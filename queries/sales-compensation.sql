-- name: sales-compensation
-- description: Invoiced revenue per transaction reference, product and end customer: payer, end customer and subscriber with their geography, gross, AWS share, refunds and net, by AR period
-- param from: first invoice day included (default: invoice date after today − 90 days)
-- param to: last invoice day included (default: none)
-- param broker: only line items sold by this AWS entity, e.g. AWS_INC or AWS_EUROPE; a missing broker counts as AWS_INC (default: all)
-- param currency: only invoices in this currency, e.g. USD (default: all)
-- column "Payer AWS Account ID": AWS account number of the payer (from-account of the line items that are not AWS fees), account version in force at the invoice date
-- column "Payer Reference ID": account id of the payer in the feeds
-- column "Payer Country": country code of the payer's address (tax address, else the invoice's billing address, else mailing address)
-- column "Payer State": state or region of that address
-- column "Payer City": city of that address
-- column "Payer Postal Code": postal code of that address
-- column "Payer Email Domain": email domain of that address
-- column "End Customer AWS Account ID": AWS account number of the account that used the product, version in force at the invoice date
-- column "End Customer Company Name": company of the end customer's address (tax, else billing, else mailing)
-- column "End Customer Email Domain": email domain of that address
-- column "End Customer City": city of that address
-- column "End Customer State": state or region of that address
-- column "End Customer Country": country code of that address
-- column "End Customer Postal Code": postal code of that address
-- column "Subscriber AWS Account ID": AWS account number of the agreement's acceptor, version in force at the invoice date
-- column "Subscriber Company Name": company of the subscriber's address (tax, else mailing)
-- column "Subscriber Email Domain": email domain of that address
-- column "Subscriber City": city of that address
-- column "Subscriber State": state or region of that address
-- column "Subscriber Country": country code of that address
-- column "Subscriber Postal Code": postal code of that address
-- column "Product Code": current product code
-- column "Product Title": current product title
-- column "Gross Revenue": invoiced and forgiven SELLER_REV_SHARE
-- column "AWS Revenue Share": invoiced and forgiven AWS_REV_SHARE listing fee (negative)
-- column "Gross Refunds": SELLER_REV_SHARE_REFUND (negative)
-- column "AWS Refunds Share": AWS_REV_SHARE_REFUND (positive)
-- column "Net Revenue": seller net: revenue, listing fee, refunds, credits (SELLER_/AWS_REV_SHARE_CREDIT) and seller sales tax (SELLER_TAX_SHARE and its refund); rows netting to 0 are left out
-- column "Currency": invoice currency
-- column "AR Period": month of the invoice date, YYYY-MM
-- column "Invoice Date": invoice date of the buyer's charge
-- column "Transaction Reference ID": transaction reference of the buyer's charge (a separate listing-fee invoice is counted with its charge)
-- column "Broker ID": AWS entity that sold (AWS_INC, AWS_EUROPE, …); missing means AWS_INC
-- column "Opportunity Name": resale authorization name of the offer in force at the invoice date (CPPO)
-- column "Opportunity Description": resale authorization description of that offer

WITH billing AS (
    -- Balance-impacting events except balance adjustments. billing_event_current picks each
    -- event's current row; its columns are read from the table by that row's lineage, so that
    -- they are not carried through the view's de-duplication sort (twice as fast at 1 M events).
    SELECT billing_event_id, parent_billing_event_id, action, transaction_type,
           transaction_reference_id, product_id, agreement_id, invoice_date, currency,
           from_account_id, end_user_account_id, nullif(billing_address_id, '') AS billing_address_id,
           amount,
           CASE WHEN broker_id IS NULL OR broker_id = '' THEN 'AWS_INC' ELSE broker_id END AS broker_id
    FROM billingeventfeed_v1
    JOIN (SELECT _source_key, _source_line FROM billing_event_current) cur
        USING (_source_key, _source_line)
    WHERE transaction_type <> 'BALANCE_ADJUSTMENT' AND balance_impacting = 1
),
invoiced AS (
    -- Invoiced and forgiven lines, each with its buyer charge: a listing fee with a parent
    -- (AWS_EUROPE bills it on its own invoice) belongs to the charge it was taken on.
    SELECT l.*, c.transaction_reference_id AS charge_reference_id, c.invoice_date AS charge_invoice_date
    FROM billing l
    JOIN billing c ON c.billing_event_id =
        CASE WHEN l.transaction_type LIKE 'AWS_REV_SHARE%' AND l.parent_billing_event_id <> ''
             THEN l.parent_billing_event_id ELSE l.billing_event_id END
    WHERE l.action IN ('INVOICED', 'FORGIVEN')
      AND (CASE WHEN $from IS NULL THEN c.invoice_date > date_add('day', -90, current_date)
                ELSE c.invoice_date >= $from END)
      AND ($to IS NULL OR c.invoice_date < $to)
      AND ($broker IS NULL OR l.broker_id = $broker)
      AND ($currency IS NULL OR l.currency = $currency)
),
per_transaction AS (
    -- Agreement and offer in force at each line's own invoice date.
    SELECT i.charge_reference_id AS transaction_reference_id, i.product_id, i.agreement_id,
           i.broker_id, i.charge_invoice_date AS invoice_date, i.currency, o.opportunity_id,
           i.end_user_account_id, ag.acceptor_account_id,
           max(i.billing_address_id) AS billing_address_id,
           sum(CASE WHEN i.transaction_type = 'SELLER_REV_SHARE' THEN i.amount ELSE 0 END) AS seller_rev,
           sum(CASE WHEN i.transaction_type = 'AWS_REV_SHARE' THEN i.amount ELSE 0 END) AS aws_fee,
           sum(CASE WHEN i.transaction_type = 'SELLER_REV_SHARE_REFUND' THEN i.amount ELSE 0 END) AS seller_rev_refund,
           sum(CASE WHEN i.transaction_type = 'AWS_REV_SHARE_REFUND' THEN i.amount ELSE 0 END) AS aws_fee_refund,
           sum(CASE WHEN i.transaction_type = 'SELLER_REV_SHARE_CREDIT' THEN i.amount ELSE 0 END) AS seller_rev_credit,
           sum(CASE WHEN i.transaction_type = 'AWS_REV_SHARE_CREDIT' THEN i.amount ELSE 0 END) AS aws_fee_credit,
           sum(CASE WHEN i.transaction_type = 'SELLER_TAX_SHARE' THEN i.amount ELSE 0 END) AS seller_tax,
           sum(CASE WHEN i.transaction_type = 'SELLER_TAX_SHARE_REFUND' THEN i.amount ELSE 0 END) AS seller_tax_refund,
           max(CASE WHEN i.transaction_type NOT LIKE '%AWS%' AND i.transaction_type NOT LIKE 'BALANCE_ADJUSTMENT'
                    THEN i.from_account_id END) AS payer_account_id
    FROM invoiced i
    LEFT JOIN agreement_history ag ON ag.agreement_id = i.agreement_id
        AND i.invoice_date >= ag.valid_from AND i.invoice_date < ag.valid_to
    LEFT JOIN offer_history o ON o.offer_id = ag.offer_id
        AND i.invoice_date >= o.valid_from AND i.invoice_date < o.valid_to
    GROUP BY i.charge_reference_id, i.product_id, i.agreement_id, i.broker_id,
             i.charge_invoice_date, i.currency, o.opportunity_id, i.end_user_account_id,
             ag.acceptor_account_id
),
account_as_of AS (
    -- Account versions; as AWS, the first version is taken to start one day early.
    SELECT account_id, aws_account_id, tax_address_id, mailing_address_id, valid_to,
           CASE WHEN lag(valid_from) OVER (PARTITION BY account_id ORDER BY valid_from) IS NULL
                THEN valid_from - INTERVAL '1' DAY ELSE valid_from END AS valid_from
    FROM account_history
),
enriched AS (
    -- Payer, end customer and subscriber as of the invoice date. (AWS also left-joins the
    -- billing addresses of balance-impacting DISBURSED lines without using them; disbursed lines
    -- are never balance-impacting, so that join, which could only repeat rows, is left out.)
    SELECT p.*, pr.product_code, pr.title,
           pay.aws_account_id AS payer_aws_account_id,
           eu.aws_account_id AS end_user_aws_account_id,
           sub.aws_account_id AS subscriber_aws_account_id,
           coalesce(nullif(pay.tax_address_id, ''), nullif(p.billing_address_id, ''),
                    nullif(pay.mailing_address_id, '')) AS payer_address_id,
           coalesce(nullif(eu.tax_address_id, ''), nullif(p.billing_address_id, ''),
                    nullif(eu.mailing_address_id, '')) AS end_user_address_id,
           coalesce(nullif(sub.tax_address_id, ''), nullif(sub.mailing_address_id, '')) AS subscriber_address_id,
           p.seller_rev + p.aws_fee + p.seller_rev_refund + p.aws_fee_refund + p.seller_rev_credit
             + p.aws_fee_credit + p.seller_tax + p.seller_tax_refund AS seller_net_revenue
    FROM per_transaction p
    JOIN product_current pr ON pr.product_id = p.product_id
    LEFT JOIN account_as_of pay ON pay.account_id = p.payer_account_id
        AND pay.valid_from <= p.invoice_date AND p.invoice_date < pay.valid_to
    LEFT JOIN account_as_of eu ON eu.account_id = p.end_user_account_id
        AND eu.valid_from <= p.invoice_date AND p.invoice_date < eu.valid_to
    LEFT JOIN account_as_of sub ON sub.account_id = p.acceptor_account_id
        AND sub.valid_from <= p.invoice_date AND p.invoice_date < sub.valid_to
)
SELECT e.payer_aws_account_id AS "Payer AWS Account ID",
       e.payer_account_id AS "Payer Reference ID",
       pa.country_code AS "Payer Country",
       pa.state_or_region AS "Payer State",
       pa.city AS "Payer City",
       pa.postal_code AS "Payer Postal Code",
       pa.email_domain AS "Payer Email Domain",
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
       e.product_code AS "Product Code",
       e.title AS "Product Title",
       e.seller_rev AS "Gross Revenue",
       e.aws_fee AS "AWS Revenue Share",
       e.seller_rev_refund AS "Gross Refunds",
       e.aws_fee_refund AS "AWS Refunds Share",
       e.seller_net_revenue AS "Net Revenue",
       e.currency AS "Currency",
       date_format(e.invoice_date, '%Y-%m') AS "AR Period",
       e.invoice_date AS "Invoice Date",
       e.transaction_reference_id AS "Transaction Reference ID",
       e.broker_id AS "Broker ID",
       op.opportunity_name AS "Opportunity Name",
       op.opportunity_description AS "Opportunity Description"
FROM enriched e
LEFT JOIN address_current pa ON pa.address_id = e.payer_address_id
LEFT JOIN address_current sa ON sa.address_id = e.subscriber_address_id
LEFT JOIN address_current ea ON ea.address_id = e.end_user_address_id
-- As AWS: one row per name and description the opportunity ever had ('' = no resale).
LEFT JOIN (SELECT DISTINCT opportunity_id, opportunity_name, opportunity_description FROM offer_history) op
    ON op.opportunity_id = e.opportunity_id
WHERE e.seller_net_revenue <> 0
ORDER BY "AR Period", "Transaction Reference ID", "Product Code", "Payer AWS Account ID", "End Customer AWS Account ID", "Subscriber AWS Account ID", "Currency", "Invoice Date", "Net Revenue", "Opportunity Name", "Opportunity Description"
