"""The watched value of bench/storage.py: a one-element list (watched as `change_box.BOX`)."""

BOX = [0]
