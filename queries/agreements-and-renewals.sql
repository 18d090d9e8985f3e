-- name: agreements-and-renewals
-- description: Active, not yet renewed agreements ending within 120 / 90 / 60 days, with the renewal window and the renewal playbook's next motion
-- param from: first end day (agreement_end_date >= from) (default: agreement_end_date after current_date, i.e. ending today or later)
-- param to: last end day, inclusive (default: current_date + 120 days, inclusive)
-- column "agreement_id": agreement id
-- column "subscriber_aws_account_id": customer: 12-digit AWS account number of the agreement's acceptor (as of acceptance)
-- column "subscriber_company_name": customer company: company of the acceptor's mailing address, else its tax legal name, else 'Not provided' (as of acceptance)
-- column "offer_id": offer the agreement was accepted on
-- column "offer_name": name of the offer revision in force at acceptance, or 'Not provided'
-- column "product_id": product(s) of that offer revision, comma-separated in product id order
-- column "product_title": their titles as of acceptance, '; '-separated in the same order ('Not provided' when unknown)
-- column "agreement_start_date": start of the agreement
-- column "agreement_end_date": end of the agreement (the report window applies to it)
-- column days_until_end: whole days from current_date to the end day (end_date's UTC day minus today)
-- column renewal_window: smallest renewal-playbook window containing the end day: '60' (0-60 days), '90' (61-90), '120' (91-120); NULL outside 0-120 days (only with from/to)
-- column renewal_motion: playbook motion of the window: 120 'Plan the renewal', 90 'Propose a renewal private offer', 60 'Close the renewal'
-- column "total_contract_value": estimated agreement value
-- column "currency_code": currency of total_contract_value

WITH
-- Rule: an agreement is listed when its current revision has status ACTIVE and no agreement
-- names it as preceding_agreement_id (whatever that renewal's status). So RENEWED, REPLACED,
-- EXPIRED, CANCELLED, TERMINATED agreements and ACTIVE agreements already renewed early are out.
-- Current revision: the latest valid_from, skipping SUPERSEDED / ROLLED_BACK revisions when
-- there are others (as AWS's agreement report). Offer revision, products, product titles and
-- the customer are those in force at acceptance (AWS's agreement report; the first version of
-- an offer reaches back 3857 days if first seen before 2021-04-01, else 1460; of a product
-- 3857 / 2190 days; of an account to 1970).
agreement_revisions AS (
  SELECT
    agreement_id, offer_id, acceptor_account_id, start_time, end_time, acceptance_time,
    preceding_agreement_id, status, estimated_agreement_value, currency_code,
    row_number() OVER (
      PARTITION BY agreement_id
      ORDER BY CASE WHEN status IN ('SUPERSEDED', 'ROLLED_BACK') THEN 1 ELSE 0 END, valid_from DESC
    ) AS revision_rank
  FROM agreement_history
),
agreements AS (
  SELECT * FROM agreement_revisions WHERE revision_rank = 1
),
renewed AS (
  SELECT DISTINCT preceding_agreement_id AS agreement_id
  FROM agreements
  WHERE preceding_agreement_id <> ''
),
due AS (
  SELECT
    a.*,
    date_diff('day', current_date, CAST(a.end_time AS DATE)) AS days_until_end
  FROM agreements AS a
  LEFT JOIN renewed AS r ON r.agreement_id = a.agreement_id
  WHERE a.status = 'ACTIVE'
    AND r.agreement_id IS NULL
    AND (CASE WHEN $from IS NULL THEN a.end_time > current_date ELSE a.end_time >= $from END)
    AND (CASE WHEN $to IS NULL THEN a.end_time < date_add('day', 121, current_date) ELSE a.end_time < $to END)
),
offer_versions AS (
  SELECT
    offer_id,
    offer_revision,
    name,
    CASE
      WHEN lag(valid_from) OVER (PARTITION BY offer_id ORDER BY valid_from) IS NULL
        THEN date_add('day', CASE WHEN valid_from < timestamp '2021-04-01 00:00:00' THEN -3857 ELSE -1460 END, valid_from)
      ELSE valid_from
    END AS valid_from,
    valid_to
  FROM offer_history
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
    coalesce(nullif(mailing_address.company_name, ''), nullif(ac.tax_legal_name, '')) AS company_name,
    CASE
      WHEN lag(ac.valid_from) OVER (PARTITION BY ac.account_id ORDER BY ac.valid_from) IS NULL
        THEN timestamp '1970-01-01 00:00:00'
      ELSE ac.valid_from
    END AS valid_from,
    ac.valid_to
  FROM account_history AS ac
  LEFT JOIN address_current AS mailing_address ON mailing_address.address_id = ac.mailing_address_id
),
accepted_offer AS (
  SELECT d.agreement_id, o.offer_revision, nullif(o.name, '') AS offer_name
  FROM due AS d
  JOIN offer_versions AS o
    ON o.offer_id = d.offer_id
    AND d.acceptance_time >= o.valid_from
    AND d.acceptance_time < o.valid_to
),
accepted_products AS (
  SELECT
    ao.agreement_id,
    listagg(op.product_id, ',') WITHIN GROUP (ORDER BY op.product_id) AS product_ids,
    listagg(coalesce(nullif(p.title, ''), 'Not provided'), '; ') WITHIN GROUP (ORDER BY op.product_id) AS product_titles
  FROM accepted_offer AS ao
  JOIN due AS d ON d.agreement_id = ao.agreement_id
  JOIN offer_product_current AS op
    ON op.offer_id = d.offer_id
    AND op.offer_revision = ao.offer_revision
  LEFT JOIN product_versions AS p
    ON p.product_id = op.product_id
    AND d.acceptance_time >= p.valid_from
    AND d.acceptance_time < p.valid_to
  GROUP BY ao.agreement_id
)
SELECT
  d.agreement_id AS "agreement_id",
  ac.aws_account_id AS "subscriber_aws_account_id",
  coalesce(ac.company_name, 'Not provided') AS "subscriber_company_name",
  d.offer_id AS "offer_id",
  coalesce(ao.offer_name, 'Not provided') AS "offer_name",
  coalesce(ap.product_ids, 'Not provided') AS "product_id",
  coalesce(ap.product_titles, 'Not provided') AS "product_title",
  d.start_time AS "agreement_start_date",
  d.end_time AS "agreement_end_date",
  d.days_until_end AS days_until_end,
  CASE
    WHEN d.days_until_end < 0 OR d.days_until_end > 120 THEN NULL
    WHEN d.days_until_end <= 60 THEN '60'
    WHEN d.days_until_end <= 90 THEN '90'
    ELSE '120'
  END AS renewal_window,
  CASE
    WHEN d.days_until_end < 0 OR d.days_until_end > 120 THEN NULL
    WHEN d.days_until_end <= 60 THEN 'Close the renewal'
    WHEN d.days_until_end <= 90 THEN 'Propose a renewal private offer'
    ELSE 'Plan the renewal'
  END AS renewal_motion,
  d.estimated_agreement_value AS "total_contract_value",
  d.currency_code AS "currency_code"
FROM due AS d
LEFT JOIN accepted_offer AS ao ON ao.agreement_id = d.agreement_id
LEFT JOIN accepted_products AS ap ON ap.agreement_id = d.agreement_id
LEFT JOIN account_versions AS ac
  ON ac.account_id = d.acceptor_account_id
  AND d.acceptance_time >= ac.valid_from
  AND d.acceptance_time < ac.valid_to
ORDER BY d.end_time, d.agreement_id
