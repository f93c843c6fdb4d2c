"""The template library: decoding and normalising animations (``media``), offline face
analysis and tracks (``analysis``, with ``detection``, ``linking``, ``tracks``,
``smoothing``), the on-disk catalog (``catalog``, ``library``), and the authoring aid
that animates still faces for the starter library (``puppet``, ``paint``).

Nothing is imported here: dlib and PyAV load only when a module that needs them is used.
"""
