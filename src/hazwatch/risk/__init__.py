"""Evaluation: major-hazard grading (GB 18218-2018), risk points and four colours, the hidden-danger
register."""
