"""Findings: what a study's results say. Tracker, leaderboards with paired-bootstrap intervals, one analysis per
study, figures, an offline HTML report and the publication export. Reads run directories and the results store
(pandas, numpy, matplotlib); never imports torch."""
