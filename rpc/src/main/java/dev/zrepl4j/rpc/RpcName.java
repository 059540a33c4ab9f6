package dev.zrepl4j.rpc;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The endpoint name of a method when it differs from the method's name, e.g. the seed's {@code
 * FilesystemRequest}. Used on server methods and on client interface methods alike.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface RpcName {
  /** The endpoint name (without the registration prefix). */
  String value();
}
