package dev.zrepl4j.rpc.transport;

import static dev.zrepl4j.rpc.transport.Api.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
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

  /**
   * A client certificate {@code NAME} signed by CA {@code ca}, valid only from {@code notBefore} to
   * {@code notAfter} (one in the past makes it expired, one in the future not yet valid), made with
   * {@code openssl ca}, which sets both dates.
   */
  public void clientValid(
      String name, String cn, String ca, KeyType type, Instant notBefore, Instant notAfter)
      throws IOException {
    signDated(name, cn, ca, type, "extendedKeyUsage=clientAuth", notBefore, notAfter);
  }

  /** A server certificate {@code NAME} like {@link #server}, valid only in the given window. */
  public void serverValid(
      String name,
      String cn,
      String ca,
      KeyType type,
      Instant notBefore,
      Instant notAfter,
      String... dnsSans)
      throws IOException {
    var ext = new ArrayList<String>();
    for (String san : dnsSans) {
      ext.add("DNS:" + san);
    }
    signDated(
        name,
        cn,
        ca,
        type,
        ext.isEmpty() ? "basicConstraints=CA:FALSE" : "subjectAltName=" + String.join(",", ext),
        notBefore,
        notAfter);
  }

  /** A self-signed leaf certificate {@code NAME} (no CA) with subject CN {@code cn}. */
  public void selfSigned(String name, String cn, KeyType type, String... dnsSans)
      throws IOException {
    newKey(name, type);
    var args =
        new ArrayList<>(
            List.of(
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
                "2"));
    if (dnsSans.length > 0) {
      var ext = new ArrayList<String>();
      for (String san : dnsSans) {
        ext.add("DNS:" + san);
      }
      args.addAll(List.of("-addext", "subjectAltName=" + String.join(",", ext)));
    }
    openssl(args.toArray(String[]::new));
  }

  private static final DateTimeFormatter OPENSSL_DATE =
      DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'").withZone(ZoneOffset.UTC);

  private void signDated(
      String name,
      String cn,
      String ca,
      KeyType type,
      String extension,
      Instant notBefore,
      Instant notAfter)
      throws IOException {
    newKey(name, type);
    Files.writeString(dir.resolve(name + ".ext"), extension + "\n");
    openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=" + cn, "-out", name + ".csr");
    Path db = Files.createDirectories(dir.resolve(name + ".cadb"));
    Files.writeString(db.resolve("index.txt"), "");
    Files.writeString(db.resolve("serial"), "1000\n");
    Files.writeString(
        db.resolve("ca.cnf"),
        String.join(
            "\n",
            "[ca]",
            "default_ca = test_ca",
            "[test_ca]",
            "database = " + db.resolve("index.txt"),
            "new_certs_dir = " + db,
            "serial = " + db.resolve("serial"),
            "default_md = sha256",
            "policy = any",
            "unique_subject = no",
            "[any]",
            "commonName = supplied",
            ""));
    openssl(
        "ca",
        "-batch",
        "-notext",
        "-config",
        db.resolve("ca.cnf").toString(),
        "-cert",
        ca + ".crt",
        "-keyfile",
        ca + ".key",
        "-in",
        name + ".csr",
        "-out",
        name + ".crt",
        "-startdate",
        OPENSSL_DATE.format(notBefore),
        "-enddate",
        OPENSSL_DATE.format(notAfter),
        "-extfile",
        name + ".ext");
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
