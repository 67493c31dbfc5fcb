"""The Square attack's step-size schedule (Andriushchenko et al. 2020): the share ``p`` of the image a
square covers, halved at fixed fractions of a 10,000-query budget. Shared by the PyTorch attack
(``attacks/square.py``) and the numpy one in verify's device script, which runs where neither
PyTorch nor this package is installed: so this module imports nothing, and ``verify --bundle``
copies it beside the device script."""

SCHEDULE = ((10, 2), (50, 4), (200, 8), (500, 16), (1000, 32), (2000, 64), (4000, 128), (6000, 256), (8000, 512))


def p_selection(p_init, query, n_queries):
    """``p`` at ``query`` of ``n_queries``: ``p_init`` divided as the paper's schedule says."""
    scaled = int(query / n_queries * 10000)
    divisor = 1
    for threshold, div in SCHEDULE:
        if scaled > threshold:
            divisor = div
    return p_init / divisor
