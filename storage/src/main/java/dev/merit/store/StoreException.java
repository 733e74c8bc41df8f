package dev.merit.store;

import dev.merit.error.MeritException;

/** A failure of the underlying store (I/O, RocksDB), naming the repository it happened in. */
public class StoreException extends MeritException {

    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
