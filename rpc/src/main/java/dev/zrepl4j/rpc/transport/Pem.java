package dev.zrepl4j.rpc.transport;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads PEM files: X.509 certificates, and private keys in PKCS#8 ({@code PRIVATE KEY}), PKCS#1
 * ({@code RSA PRIVATE KEY}) and SEC1 ({@code EC PRIVATE KEY}) form. The JDK reads only PKCS#8, so
 * the other two are wrapped into a PKCS#8 structure with a few bytes of DER. Stateless.
 */
final class Pem {
  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----\\R(.*?)-----END \\1-----", Pattern.DOTALL);

  // DER of the AlgorithmIdentifier OIDs (tag, length, value)
  private static final byte[] OID_RSA = {
    0x06, 0x09, 0x2A, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xF7, 0x0D, 0x01, 0x01, 0x01
  };
  private static final byte[] OID_EC_PUBLIC_KEY = {
    0x06, 0x07, 0x2A, (byte) 0x86, 0x48, (byte) 0xCE, 0x3D, 0x02, 0x01
  };
  private static final byte[] DER_NULL = {0x05, 0x00};
  private static final byte[] DER_ZERO = {0x02, 0x01, 0x00};

  private Pem() {}

  /** One PEM block: its type, its RFC 1421 headers (if any) and its decoded bytes. */
  private static final class Block {
    private final String type;
    private final String headers;
    private final byte[] der;

    Block(String type, String headers, byte[] der) {
      this.type = type;
      this.headers = headers;
      this.der = der;
    }

    String type() {
      return type;
    }

    String headers() {
      return headers;
    }

    byte[] der() {
      return der;
    }
  }

  private static List<Block> blocks(Path file) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      throw new IOException("file " + file + " does not exist", e);
    } catch (AccessDeniedException e) {
      throw new IOException("file " + file + " is not readable (permission denied)", e);
    } catch (CharacterCodingException e) {
      throw new IOException("file " + file + " is not a PEM text file (not ASCII)", e);
    } catch (IOException e) {
      throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
    }
    var out = new ArrayList<Block>();
    Matcher m = BLOCK.matcher(text);
    while (m.find()) {
      String body = m.group(2);
      String headers = "";
      int blank = body.indexOf("\n\n");
      if (body.contains(":") && blank >= 0) { // RFC 1421 headers (legacy encrypted keys)
        headers = body.substring(0, blank);
        body = body.substring(blank + 2);
      }
      try {
        out.add(new Block(m.group(1), headers, Base64.getMimeDecoder().decode(body)));
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ": bad base64 in PEM block " + m.group(1), e);
      }
    }
    return out;
  }

  /**
   * The certificates of a PEM file, in file order (a leaf certificate first, then its chain).
   *
   * @throws IOException naming the file, if it cannot be read or holds no certificate
   */
  static List<X509Certificate> certificates(Path file) throws IOException {
    var certs = new ArrayList<X509Certificate>();
    CertificateFactory cf;
    try {
      cf = CertificateFactory.getInstance("X.509");
    } catch (CertificateException e) {
      throw new IllegalStateException("no X.509 support in this JDK", e);
    }
    for (Block b : blocks(file)) {
      if (!b.type().equals("CERTIFICATE")) {
        continue;
      }
      try {
        certs.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.der())));
      } catch (CertificateException e) {
        throw new IOException(file + ": invalid certificate: " + e.getMessage(), e);
      }
    }
    if (certs.isEmpty()) {
      throw new IOException(file + ": no PEM certificate (-----BEGIN CERTIFICATE-----) found");
    }
    return certs;
  }

  /**
   * The private key of a PEM file (the first key block in it).
   *
   * @throws IOException naming the file, if it cannot be read, holds no key, or an encrypted one
   */
  static PrivateKey privateKey(Path file) throws IOException {
    for (Block b : blocks(file)) {
      if (!b.headers().isEmpty() || b.type().equals("ENCRYPTED PRIVATE KEY")) {
        throw new IOException(file + ": encrypted private keys are not supported");
      }
      byte[] pkcs8;
      try {
        pkcs8 =
            switch (b.type()) {
              case "PRIVATE KEY" -> b.der();
              case "RSA PRIVATE KEY" -> seq(DER_ZERO, seq(OID_RSA, DER_NULL), tlv(0x04, b.der()));
              case "EC PRIVATE KEY" ->
                  seq(DER_ZERO, seq(OID_EC_PUBLIC_KEY, curve(b.der())), tlv(0x04, b.der()));
              default -> null;
            };
      } catch (IOException e) {
        throw new IOException(file + ": " + b.type() + ": " + e.getMessage(), e);
      }
      if (pkcs8 == null) {
        continue;
      }
      var failed = new IOException(file + ": unsupported or invalid " + b.type());
      for (String alg : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
        try {
          return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
        } catch (GeneralSecurityException e) {
          failed.addSuppressed(e);
        }
      }
      throw failed;
    }
    throw new IOException(
        file + ": no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block) found");
  }

  /** The named curve OID (a full TLV) of a SEC1 ECPrivateKey: its [0] parameters element. */
  private static byte[] curve(byte[] sec1) throws IOException {
    int[] outer = header(sec1, 0, 0x30);
    int pos = outer[0];
    int end = outer[0] + outer[1];
    while (pos < end) {
      int tag = sec1[pos] & 0xFF;
      int[] h = header(sec1, pos, tag);
      if (tag == 0xA0) {
        int[] oid = header(sec1, h[0], 0x06);
        int oidLen = oid[0] + oid[1] - h[0];
        var out = new byte[oidLen];
        System.arraycopy(sec1, h[0], out, 0, oidLen);
        return out;
      }
      pos = h[0] + h[1];
    }
    throw new IOException("EC key without named curve parameters");
  }

  /** Checks the tag at {@code pos}; returns {content offset, content length}. */
  private static int[] header(byte[] der, int pos, int tag) throws IOException {
    if (pos + 2 > der.length || (der[pos] & 0xFF) != tag) {
      throw new IOException("malformed DER at byte " + pos);
    }
    int len = der[pos + 1] & 0xFF;
    int off = pos + 2;
    if (len >= 0x80) {
      int n = len & 0x7F;
      if (n == 0 || n > 3 || off + n > der.length) {
        throw new IOException("malformed DER length at byte " + pos);
      }
      len = 0;
      for (int i = 0; i < n; i++) {
        len = (len << 8) | (der[off++] & 0xFF);
      }
    }
    if (off + len > der.length) {
      throw new IOException("truncated DER at byte " + pos);
    }
    return new int[] {off, len};
  }

  private static byte[] seq(byte[]... parts) {
    var body = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      body.writeBytes(p);
    }
    return tlv(0x30, body.toByteArray());
  }

  private static byte[] tlv(int tag, byte[] content) {
    var out = new ByteArrayOutputStream(content.length + 6);
    out.write(tag);
    int n = content.length;
    if (n < 0x80) {
      out.write(n);
    } else if (n < 0x100) {
      out.write(0x81);
      out.write(n);
    } else if (n < 0x10000) {
      out.write(0x82);
      out.write(n >> 8);
      out.write(n);
    } else {
      out.write(0x83);
      out.write(n >> 16);
      out.write(n >> 8);
      out.write(n);
    }
    out.writeBytes(content);
    return out.toByteArray();
  }
}
