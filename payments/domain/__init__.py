"""Pure payment rules: decide/evolve functions, no I/O."""
