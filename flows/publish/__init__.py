"""Publishing an export's FHIR bundles to a FHIR server: HTTP client, ledger, Prefect flow."""
