"""Problems (问题): reported, routed, rectified within a deadline, verified and answered for.

The campaign's cycle of 问题排查 → 责令限期整改 → 督导检查 → 通报 → 绩效考核, built on gridmgr's
responsibility data (who holds every piece and key place). Modules, top down:

``categories`` (the shipped categories file and the rules file), ``workdays`` (deadlines in
working days on China's official calendar), ``cycle`` (the state machine and its role rules, as
data), ``derive`` (what a report gets from the grid: piece, units, leader at that moment, key place,
department), ``photos`` (checked, content-addressed photos), ``service`` (report and act: one
transaction each), ``assessment`` (metrics, formula, ranking), ``notice`` (通报 candidates and
表彰 list) and ``ledger`` (XLSX ledger out and in). Persistence is ``gridmgr.store.problems``;
the circular's DOCX is written by ``gridmgr.export.circular``. See ``docs/problems.md``.
"""
