VALUE = "five"
