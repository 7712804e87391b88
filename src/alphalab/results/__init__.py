"""Stage 5: what a sweep or search concluded, read back from the store: rows, statistics, the
verdict and when it can be trusted, its renderings (table, csv, markdown) and plots."""
