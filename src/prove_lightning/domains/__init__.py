"""Domain tagging: give every image of a dataset one of the seven domains (rules, a fitted classifier, CLIP).

``prove domains tag`` writes the ``image,domain,confidence,tagger`` CSV that every adapter reads as
``dataset.source.domain_csv``; ``prove domains fit`` trains the classifier on a tagged dataset;
``prove domains stratify`` links a tagged dataset into the stratified layout the S1/S2 sweeps read.
"""
