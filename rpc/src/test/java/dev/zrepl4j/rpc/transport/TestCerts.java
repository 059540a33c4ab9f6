package dev.zrepl4j.rpc.transport;

import static dev.zrepl4j.rpc.transport.Api.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * PEM certificates and keys made by the real openssl CLI in one directory, for TLS tests here and
 * in the daemon's integration tests (rpc's test-jar). For each NAME, {@code NAME.key} and {@code
 * NAME.crt}. Not thread-safe.
 */
public final class TestCerts {
  /** How a private key is generated and encoded. */
  public enum KeyType {
    /** RSA 2048, PKCS#1 ("RSA PRIVATE KEY"). */
    RSA_PKCS1,
    /** RSA 2048, PKCS#8 ("PRIVATE KEY"). */
    RSA_PKCS8,
    /** EC P-256, SEC1 ("EC PRIVATE KEY"). */
    EC_SEC1,
    /** EC P-256, PKCS#8 ("PRIVATE KEY"). */
    EC_PKCS8
  }

  private final Path dir;

  /** Certificates in {@code dir} (created if missing). */
  public TestCerts(Path dir) throws IOException {
    this.dir = Files.createDirectories(dir);
  }

  /**
   * The usual set: CA {@code ca} (RSA) and another CA {@code ca2} (EC); {@code server} (CN backup,
   * DNS SANs backup.example and localhost, SEC1 key) from ca; clients {@code prod} (CN prod, PKCS#1
   * key) and {@code other} (CN other, PKCS#8) from ca; {@code rogue} (CN prod, PKCS#8) from ca2.
   */
  public static TestCerts usual(Path dir) throws IOException {
    var c = new TestCerts(dir);
    c.ca("ca", "zrepl4j test CA", KeyType.RSA_PKCS8);
    c.ca("ca2", "other CA", KeyType.EC_PKCS8);
    c.server("server", "backup", "ca", KeyType.EC_SEC1, "backup.example", "localhost");
    c.client("prod", "prod", "ca", KeyType.RSA_PKCS1);
    c.client("other", "other", "ca", KeyType.EC_PKCS8);
    c.client("rogue", "prod", "ca2", KeyType.EC_PKCS8);
    return c;
  }

  public Path dir() {
    return dir;
  }

  /** {@code NAME.crt}. */
  public Path crt(String name) {
    return dir.resolve(name + ".crt");
  }

  /** {@code NAME.key}. */
  public Path key(String name) {
    return dir.resolve(name + ".key");
  }

  /** A self-signed CA {@code NAME} with subject CN {@code cn}. */
  public void ca(String name, String cn, KeyType type) throws IOException {
    newKey(name, type);
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        name + ".key",
        "-out",
        name + ".crt",
        "-subj",
        "/CN=" + cn,
        "-days",
        "2");
  }

  /** A server certificate {@code NAME} signed by CA {@code ca}, with DNS subject alt names. */
  public void server(String name, String cn, String ca, KeyType type, String... dnsSans)
      throws IOException {
    var ext = new ArrayList<String>();
    for (String san : dnsSans) {
      ext.add("DNS:" + san);
    }
    sign(
        name,
        cn,
        ca,
        type,
        ext.isEmpty() ? "basicConstraints=CA:FALSE" : "subjectAltName=" + String.join(",", ext));
  }

  /** A client certificate {@code NAME} signed by CA {@code ca} (extendedKeyUsage=clientAuth). */
  public void client(String name, String cn, String ca, KeyType type) throws IOException {
    sign(name, cn, ca, type, "extendedKeyUsage=clientAuth");
  }

  private void sign(String name, String cn, String ca, KeyType type, String extension)
      throws IOException {
    newKey(name, type);
    Files.writeString(dir.resolve(name + ".ext"), extension + "\n");
    openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=" + cn, "-out", name + ".csr");
    openssl(
        "x509",
        "-req",
        "-in",
        name + ".csr",
        "-CA",
        ca + ".crt",
        "-CAkey",
        ca + ".key",
        "-CAcreateserial",
        "-out",
        name + ".crt",
        "-days",
        "2",
        "-extfile",
        name + ".ext");
  }

  private void newKey(String name, KeyType type) throws IOException {
    var out = name + ".key";
    switch (type) {
      case RSA_PKCS1 -> openssl("genrsa", "-traditional", "-out", out, "2048");
      case RSA_PKCS8 ->
          openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", out);
      case EC_SEC1 -> openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", out);
      case EC_PKCS8 ->
          openssl(
              "genpkey",
              "-algorithm",
              "EC",
              "-pkeyopt",
              "ec_paramgen_curve:prime256v1",
              "-out",
              out);
    }
  }

  private void openssl(String... args) throws IOException {
    var cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    try {
      run(dir, cmd.toArray(String[]::new));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("openssl interrupted");
    }
  }
}
