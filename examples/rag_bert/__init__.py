"""Reference retrieval-augmented haplotype BERT trainer built on maskkit.

Run ``python -m examples.rag_bert.train`` (demo data) or see ``docs/trainer.md``; impute your own
VCF with ``python -m examples.rag_bert.impute`` (``docs/impute.md``).

``train`` reads top-down and imports the rest: ``cli`` (flags), ``data`` (stores, demo data),
``masking`` (curriculum, Masker, validation masks), ``engine`` (model, retrieval, forward pass),
``evaluate`` (calibration, validation), ``baselines``, ``outputs`` (metrics, plots),
``checkpoint``; beside them ``model``, ``retrieval``, ``hmm`` (Li-Stephens prior), ``phase``,
``calls``, ``impute``, ``vcfio``, ``ablation`` and ``beagle_bench``.
"""
