"""StereoSet: the ``stereoset`` metric (``metric.py``), its data set (``dataset.py``; its three
published layouts parsed by ``layouts.py``) and SS, LMS and ICAT from decisions (``scores.py``)."""
