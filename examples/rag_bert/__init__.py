"""Reference retrieval-augmented haplotype BERT trainer built on maskkit.

Run ``python -m examples.rag_bert.train`` (demo data) or see ``docs/trainer.md``.
"""
