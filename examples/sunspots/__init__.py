"""The sunspot cycle: 309 years of yearly sunspot numbers (statsmodels' bundled data set)."""
