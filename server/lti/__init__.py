"""LTI 1.3: Rubric as a tool that LMS platforms launch; no HTTP here, the views are web/lti.py."""
