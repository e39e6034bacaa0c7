"""Reference models for the engine: small, exact, and each with known answers.

- :mod:`.two_phase`: Gray and Lamport's two-phase commit, the benchmark
  (288 / 8,832 / 296,448 / 1,745,408 states for 3 / 5 / 7 / 8 RMs);
- :mod:`.philosophers`: dining philosophers who all take their left fork
  first, and so deadlock;
- :mod:`.worker`: a worker that finishes only under the right fairness;
- :mod:`.clock`: an alarm clock whose mistyped alarm hour makes a check vacuous.
"""
