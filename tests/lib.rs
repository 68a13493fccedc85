//! Black-box test support lives in api/.
