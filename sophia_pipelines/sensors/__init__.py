"""Source sensors: register each new source run as a partition of its raw asset and request its landing."""
