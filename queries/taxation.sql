-- name: taxation
-- description: Taxed invoices: one row per tax item (invoice line x jurisdiction) with product, taxed customer, rate, tax amount and exemption (AWS taxation report)
-- param from: first invoice day (invoice_date >= from) (default: invoice_date >= current_date - 90 days, as AWS)
-- param to: last invoice day, inclusive (default: no upper bound)
-- param currency: tax currency, e.g. USD (default: all)
-- column "invoice_id": AWS invoice id the tax was calculated for
-- column "line_item_id": invoice line item (a refund shares the line item of its forward transaction)
-- column "customer_bill_id": customer bill id
-- column "tax_liable_party": who owes the tax: AWS (marketplace facilitator) or Seller
-- column "transaction_type_code": AWS (forward), REFUND or TAXONLYREFUND
-- column "product_id": product of the line
-- column "product_title": product title as of the invoice date
-- column "product_tax_code": product tax code
-- column "invoice_date": invoice date (the report window applies to it)
-- column "taxed_customer_account_id": 12-digit AWS account number of the taxed customer as of the invoice date
-- column "taxed_customer_country": country of the taxed customer (ISO 3166 alpha-2)
-- column "taxed_customer_state_or_region": state or region of the taxed customer
-- column "taxed_customer_city": city of the taxed customer
-- column "taxed_customer_postal_code": postal code of the taxed customer
-- column "tax_type": tax type (Sales, SellerUse, VAT, None, ...)
-- column "jurisdiction_level": State, County, City, District or Country
-- column "taxed_jurisdiction": name of the taxed jurisdiction
-- column "display_price_taxability_type": how the display price treats tax (tax exclusive)
-- column "tax_jurisdiction_rate": tax rate of the jurisdiction (0.0650 = 6.5 %)
-- column "tax_amount": tax amount in tax_currency (negative for refunds), as delivered
-- column "tax_currency": currency of tax_amount
-- column "tax_calculation_reason_code": Taxable, Not taxable, Exempt or Zero-rated
-- column "date_used_for_tax_calculation": date the tax engine used
-- column "customer_exemption_certificate_id": exemption certificate id, or 'Not exempt'
-- column "customer_exemption_certificate_id_domain": authority of the exemption certificate, or 'Not exempt'
-- column "customer_exemption_certificate_level": level of the exemption certificate, or 'Not exempt'
-- column "customer_exemption_code": exemption code (e.g. RESALE), or 'Not exempt'
-- column "transaction_reference_id": id shared with the billing events and AMMP reports of the same transaction

WITH
-- Tax items: every version after spec §2.2 step A (AWS does not reduce them to the latest
-- valid_from either). Product and account are the versions in force at the invoice date; as
-- AWS does, a product's first version reaches back 3857 days (first valid_from before
-- 2021-04-01) or 2190 days, and an account's first version back to 1970-01-01.
product_versions AS (
  SELECT
    product_id,
    title,
    CASE
      WHEN lag(valid_from) OVER (PARTITION BY product_id ORDER BY valid_from) IS NULL
        THEN date_add('day', CASE WHEN valid_from < timestamp '2021-04-01 00:00:00' THEN -3857 ELSE -2190 END, valid_from)
      ELSE valid_from
    END AS valid_from,
    valid_to
  FROM product_history
),
account_versions AS (
  SELECT
    account_id,
    aws_account_id,
    CASE
      WHEN lag(valid_from) OVER (PARTITION BY account_id ORDER BY valid_from) IS NULL
        THEN timestamp '1970-01-01 00:00:00'
      ELSE valid_from
    END AS valid_from,
    valid_to
  FROM account_history
)
SELECT
  t.invoice_id AS "invoice_id",
  t.line_item_id AS "line_item_id",
  t.customer_bill_id AS "customer_bill_id",
  t.tax_liable_party AS "tax_liable_party",
  t.transaction_type_code AS "transaction_type_code",
  t.product_id AS "product_id",
  p.title AS "product_title",
  t.product_tax_code AS "product_tax_code",
  t.invoice_date AS "invoice_date",
  a.aws_account_id AS "taxed_customer_account_id",
  t.taxed_customer_country AS "taxed_customer_country",
  t.taxed_customer_state_or_region AS "taxed_customer_state_or_region",
  t.taxed_customer_city AS "taxed_customer_city",
  t.taxed_customer_postal_code AS "taxed_customer_postal_code",
  t.tax_type_code AS "tax_type",
  t.jurisdiction_level AS "jurisdiction_level",
  t.taxed_jurisdiction AS "taxed_jurisdiction",
  t.display_price_taxability_type AS "display_price_taxability_type",
  t.tax_jurisdiction_rate AS "tax_jurisdiction_rate",
  t.tax_amount AS "tax_amount",
  t.tax_currency AS "tax_currency",
  t.tax_calculation_reason_code AS "tax_calculation_reason_code",
  t.date_used_for_tax_calculation AS "date_used_for_tax_calculation",
  coalesce(nullif(t.customer_exemption_certificate_id, ''), 'Not exempt') AS "customer_exemption_certificate_id",
  coalesce(nullif(t.customer_exemption_certificate_id_domain, ''), 'Not exempt') AS "customer_exemption_certificate_id_domain",
  coalesce(nullif(t.customer_exemption_certificate_level, ''), 'Not exempt') AS "customer_exemption_certificate_level",
  coalesce(nullif(t.customer_exemption_code, ''), 'Not exempt') AS "customer_exemption_code",
  t.transaction_reference_id AS "transaction_reference_id"
FROM tax_item_history AS t
LEFT JOIN product_versions AS p
  ON p.product_id = t.product_id
  AND t.invoice_date >= p.valid_from
  AND t.invoice_date < p.valid_to
LEFT JOIN account_versions AS a
  ON a.account_id = t.taxed_customer_account_id
  AND t.invoice_date >= a.valid_from
  AND t.invoice_date < a.valid_to
WHERE (CASE WHEN $from IS NULL THEN t.invoice_date >= date_add('day', -90, current_date) ELSE t.invoice_date >= $from END)
  AND ($to IS NULL OR t.invoice_date < $to)
  AND ($currency IS NULL OR t.tax_currency = $currency)
ORDER BY t.invoice_date, t.invoice_id, t.line_item_id, t.tax_item_id, t.valid_from
