"""Import mappings shipped with Tierwise (`tierwise import --mapping NAME`): one YAML each."""
