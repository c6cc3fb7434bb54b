from textkit.slug import slugify


def test_basic():
    assert slugify("Hello, World!") == "hello-world"


def test_accents_and_sep():
    assert slugify("Crème Brûlée", sep="_") == "creme_brulee"
