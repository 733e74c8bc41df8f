package dev.merit.error;

/** Something named by the user does not exist: a repository, a revision, a file, a tensor. */
public class NotFoundException extends MeritException {

    public NotFoundException(String message) {
        super(message);
    }
}
