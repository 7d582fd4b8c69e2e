"""The legacy XML reader's sites: each read in one pass over its children, with what the
path look-ups it replaced answered, whatever the order of the children."""

from mappers.readers import read_document

_RECORD = """<?xml version="1.0"?>
<clinical_study>
  <id_info><nct_id>NCT00000001</nct_id></id_info>
  <brief_title>Sites in any order</brief_title>
  <location>
    <investigator><last_name>Ivy Investigator</last_name><role>Sub-Investigator</role></investigator>
    <contact_backup><last_name>Bob Backup</last_name><email>bob@example.org</email></contact_backup>
    <facility><address><city>Lyon</city></address></facility>
    <contact><last_name>Carol Contact</last_name><phone>555</phone><phone_ext>12</phone_ext></contact>
    <facility><name>Second facility's name</name><address><city>Paris</city></address></facility>
    <status>Recruiting</status>
    <investigator><last_name>Ian Lead</last_name><role>Boss</role></investigator>
    <status>Completed</status>
  </location>
</clinical_study>
"""


def test_a_sites_children_in_any_order_read_as_by_path():
    (study,) = read_document(_RECORD.encode(), "order.xml")
    (site,) = study.sites
    assert [p.name for p in site.contacts] == ["Carol Contact", "Bob Backup"]  # contacts, then backups
    assert (site.contacts[0].phone, site.contacts[0].phone_ext, site.contacts[1].email) == (
        "555",
        "12",
        "bob@example.org",
    )
    assert [(p.name, p.role) for p in site.investigators] == [
        ("Ivy Investigator", "SUB_INVESTIGATOR"),
        ("Ian Lead", None),
    ]
    # the first name and the first address among the facilities; the first status
    assert (site.facility, site.city, site.status) == ("Second facility's name", "Lyon", "RECRUITING")
    unknown = [i.message for i in study.issues if i.code == "unknown-code"]
    assert len(unknown) == 1 and "Boss" in unknown[0]
