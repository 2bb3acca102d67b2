"""Analysis of trained networks: rate maps, scores, shuffles, cell types, tuning, development, boundary, claims."""
