# Reads rows cols rank and a float32 little-endian matrix file; prints the Frobenius norm of the
# error of the best rank-r approximation (numpy's exact SVD): an independent reference.
import sys
import numpy as np
rows, cols, rank, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a = np.fromfile(path, dtype='<f4').astype(np.float64).reshape(rows, cols)
s = np.linalg.svd(a, compute_uv=False)
print(repr(float(np.sqrt(np.sum(s[rank:] ** 2)))))
