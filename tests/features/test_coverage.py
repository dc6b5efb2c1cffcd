from dataclasses import replace

from features.coverage import unavailable_features
from features.tables import Tables


def test_full_program_provides_every_profile_feature(tables: Tables) -> None:
    assert unavailable_features(tables) == {}


def test_absent_table_and_empty_columns_are_named(tables: Tables) -> None:
    partners = tables.partners.assign(company_size=None, region="unknown")
    deals = tables.deals.assign(deal_kind=None)
    thin = replace(tables, partners=partners, deals=deals, surveys=None)
    missing = unavailable_features(thin)
    assert missing["company_size"] == "partners.company_size is empty"
    assert missing["region"] == "partners.region is empty"
    assert missing["expansion_share_90d"] == "deals.deal_kind is empty"
    assert missing["satisfaction_latest"] == "the data has no surveys table"
    assert "revenue_won_365d" not in missing
