"""WordNet triplets from a tiny data file in WordNet's own format (wndb(5WN))."""

from __future__ import annotations

from e5v.train.data.wordnet import build_triplets, parse_data_file, write_triplets

DATA = """  1 This software and database is being provided ... (licence header lines start with two spaces)
00000001 05 n 01 animal 0 000 | a living organism that moves
00000002 05 n 02 dog 0 domestic_dog 0 001 @ 00000001 n 0000 | a domesticated canid; "the dog barked all night"
00000003 05 n 01 cat 0 001 @ 00000001 n 0000 | a small feline mammal; "the cat purred on the sofa"
"""


def test_parse_and_build(tmp_path):
    (tmp_path / "data.noun").write_text(DATA)
    (tmp_path / "data.verb").write_text("")
    synsets = parse_data_file(tmp_path / "data.noun")
    dog = synsets["00000002"]
    assert dog.lemmas == ["dog", "domestic dog"] and dog.gloss == "a domesticated canid"
    assert dog.examples == ["the dog barked all night"] and dog.hypernyms == ["00000001"]
    train, test = build_triplets(tmp_path, held_out=0.0)
    assert not test
    by_anchor = {t.anchor: t for t in train}
    assert by_anchor["dog"].positive in ("a domesticated canid", "domestic dog")
    assert ("dog", "domestic dog", "cat") in {(t.anchor, t.positive, t.negative) for t in train}
    assert ("a small feline mammal", "the cat purred on the sofa", "the dog barked all night") in {
        (t.anchor, t.positive, t.negative) for t in train
    }
    assert "animal" not in by_anchor  # no sibling: no hard negative, no triplet
    path = write_triplets(train, tmp_path / "t.csv")
    assert path.read_text().splitlines()[0] == "sent0,sent1,hard_neg"
