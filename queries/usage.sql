-- name: usage
-- description: Daily usage and estimated revenue per usage day, agreement, product and dimension, with the customer (agreement acceptor) (AWS usage report, summed over regions)
-- param from: first usage day (usage_date >= from) (default: usage_date >= current_date - 90 days, as AWS)
-- param to: last usage day, inclusive (default: no upper bound)
-- param currency: pricing currency, e.g. USD (default: all)
-- column "usage_date": day of the usage (the report window applies to it)
-- column "agreement_id": agreement the usage is charged under, or 'Not available'
-- column "offer_id": offer of the agreement (as of the usage day; the usage record's offer when there is no agreement), or 'Not available'
-- column "product_id": product used
-- column "product_title": product title as of the usage day, or 'Not provided'
-- column "subscriber_aws_account_id": customer: 12-digit AWS account number of the agreement's acceptor as of the usage day, or 'Not available' without agreement
-- column "subscriber_company_name": customer company: tax legal name, else company of the tax address, else of the mailing address; 'Not provided' when none, 'Not available' without agreement
-- column "dimension_key": pricing dimension metered (e.g. api_requests)
-- column "usage_unit_types": unit of the quantity (e.g. Requests, GB, Hours)
-- column "estimated_usage_units": usage quantity, summed over the day's usage records (regions, end users)
-- column "usage_rate_per_unit": price per unit in the pricing currency
-- column "estimated_revenue": estimated revenue in the pricing currency, summed over the day's usage records (not rounded)
-- column "currency": pricing currency
-- column "usage_records": number of usage records (daily usage feed rows) summed into the row
-- column "usage_reported_date": when the latest of those records was reported (its update_date)

WITH
-- Usage records: every version after spec §2.2 step A, as AWS (corrections of a record replace
-- it; soft-deleted ones are gone). The agreement, product and account versions are those in
-- force on the usage day; as AWS does, the first version of each reaches back in time (agreement
-- and account: to 1970; product: 3857 days if first seen before 2021-04-01, else 2190 days).
usage_records AS (
  SELECT
    usage_date,
    nullif(agreement_id, '') AS agreement_id,
    nullif(offer_id, '') AS offer_id,
    product_id,
    dimension_key,
    usage_unit,
    usage_quantity,
    usage_rate_per_unit_in_pricing_currency AS rate,
    estimated_revenue_in_pricing_currency AS revenue,
    pricing_currency,
    update_date
  FROM daily_usage_history
  WHERE (CASE WHEN $from IS NULL THEN usage_date >= date_add('day', -90, current_date) ELSE usage_date >= $from END)
    AND ($to IS NULL OR usage_date < $to)
    AND ($currency IS NULL OR pricing_currency = $currency)
),
agreement_versions AS (
  SELECT
    agreement_id,
    offer_id,
    acceptor_account_id,
    CASE
      WHEN lag(valid_from) OVER (PARTITION BY agreement_id ORDER BY valid_from) IS NULL
        THEN timestamp '1970-01-01 00:00:00'
      ELSE valid_from
    END AS valid_from,
    valid_to
  FROM agreement_history
),
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
    ac.account_id,
    ac.aws_account_id,
    coalesce(nullif(ac.tax_legal_name, ''), nullif(tax_address.company_name, ''), nullif(mailing_address.company_name, '')) AS company_name,
    CASE
      WHEN lag(ac.valid_from) OVER (PARTITION BY ac.account_id ORDER BY ac.valid_from) IS NULL
        THEN timestamp '1970-01-01 00:00:00'
      ELSE ac.valid_from
    END AS valid_from,
    ac.valid_to
  FROM account_history AS ac
  LEFT JOIN address_current AS tax_address ON tax_address.address_id = ac.tax_address_id
  LEFT JOIN address_current AS mailing_address ON mailing_address.address_id = ac.mailing_address_id
),
enriched AS (
  SELECT
    u.*,
    coalesce(ag.offer_id, u.offer_id) AS agreement_offer_id,
    p.title AS product_title,
    ac.aws_account_id AS subscriber_aws_account_id,
    ac.company_name AS subscriber_company_name
  FROM usage_records AS u
  LEFT JOIN agreement_versions AS ag
    ON ag.agreement_id = u.agreement_id
    AND u.usage_date >= ag.valid_from
    AND u.usage_date < ag.valid_to
  LEFT JOIN product_versions AS p
    ON p.product_id = u.product_id
    AND u.usage_date >= p.valid_from
    AND u.usage_date < p.valid_to
  LEFT JOIN account_versions AS ac
    ON ac.account_id = ag.acceptor_account_id
    AND u.usage_date >= ac.valid_from
    AND u.usage_date < ac.valid_to
)
SELECT
  usage_date AS "usage_date",
  coalesce(agreement_id, 'Not available') AS "agreement_id",
  coalesce(agreement_offer_id, 'Not available') AS "offer_id",
  product_id AS "product_id",
  coalesce(product_title, 'Not provided') AS "product_title",
  CASE WHEN agreement_id IS NULL THEN 'Not available' ELSE subscriber_aws_account_id END AS "subscriber_aws_account_id",
  CASE
    WHEN agreement_id IS NULL THEN 'Not available'
    ELSE coalesce(subscriber_company_name, 'Not provided')
  END AS "subscriber_company_name",
  dimension_key AS "dimension_key",
  usage_unit AS "usage_unit_types",
  sum(usage_quantity) AS "estimated_usage_units",
  rate AS "usage_rate_per_unit",
  sum(revenue) AS "estimated_revenue",
  pricing_currency AS "currency",
  count(*) AS "usage_records",
  max(update_date) AS "usage_reported_date"
FROM enriched
GROUP BY
  usage_date, agreement_id, agreement_offer_id, product_id, product_title,
  subscriber_aws_account_id, subscriber_company_name,
  dimension_key, usage_unit, rate, pricing_currency
ORDER BY usage_date, 2, product_id, dimension_key, currency, usage_rate_per_unit
