"""Request limits shared by the API (api.py) and the buffering front (front.py).

They live apart from both so the front can enforce the body limit without importing the
app (and everything the models need) into the process that accepts connections.
"""

MAX_K = 100
MAX_RATINGS = 1000
#: The largest body a POST may send: MAX_RATINGS entries of the longest form,
#: {"movie_id": 2147483647, "rating": 4.5, "timestamp": 1099511627775}, with room for
#: whitespace; anything longer is refused (413) before it is read into memory.
MAX_BODY_BYTES = MAX_RATINGS * 128 + 1024
MAX_JSON_DEPTH = 16
