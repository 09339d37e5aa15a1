"""What the definitions stand on but are not definitions: environment, prepared dbt project, translator."""
