"""`modelgate adopt`: turn a CSV the repository has never seen into its data contract.

    modelgate adopt --data file.csv --target column [--positive value] [--task binary|regression]
                    [--date column] [--protected a,b] [--drop a,b] [--name model-name]

It profiles the file (every cell read as text, as ingest reads it), writes the `ingest` contract
and the task's gate settings into `params.yaml` (a round-trip: untouched sections keep their
comments), copies the file to `data/raw/` and `dvc add`s it, then prints what it decided and
what to review. Nothing is written unless the whole result loads through the params models.

The rules (issue 12: the sample's own extremes never become hard limits):
- kind: every present value a whole number written without a decimal point -> `integer`; every
  value a finite number -> `numeric`; every value an ISO 8601 date (YYYY-MM-DD...) -> `date`;
  anything else -> `categorical` with its values, sorted, as the declared categories. A 0/1
  column stays `integer` (min 0): trees split it the same, and it keeps one model input.
- nullable: the column has any missing cell.
- range: `min: 0` when no value is negative (a count or an amount cannot go below zero);
  no other `min`, and never a `max`: the sample's extremes are not the population's.
- identifiers are left out (`extra_columns: drop`, so the file still ingests): a column named
  like one (`id`, `rownames`, `*_id`), an integer column unique per row that runs in file order
  (a row number), or a text column unique per row.
- task: a target with two values is `binary`; a numeric target with more is `regression`
  (`target_min: 0` when no value is negative). The positive class is `--positive`, else the one
  obvious value of the pair (yes/no, 1/0, true/false, bad/good, positive/negative); any other
  pair is refused with both values listed.
- a date column orders an out-of-time split (`split.by`) and derives its calendar features.
"""
