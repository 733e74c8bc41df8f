/** Domain exceptions shared by every module; each maps to one CLI exit code and one gRPC status. */
package dev.merit.error;
