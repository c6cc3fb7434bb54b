from textkit.wordcount import count_words


def test_counts_are_case_insensitive():
    assert count_words("The cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}


def test_apostrophes():
    assert count_words("don't 'quote'") == {"don't": 1, "quote": 1}
