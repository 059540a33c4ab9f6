package dev.zrepl4j.rpc.transport;

import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.RefusedException;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.rpc.Transport;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.security.auth.x500.X500Principal;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code tls} transport: mutual TLS 1.3, each side trusting only its configured CA (never the
 * JDK's default trust store). A server admits a client whose certificate chains to its CA and whose
 * subject CN is in {@code client_cns}; the CN is the client's identity. A client admits a server
 * whose certificate chains to its CA and names {@code server_cn} as its CN or a DNS SAN. Stateless;
 * the listeners and clients it makes are thread-safe.
 */
public final class Tls {
  /*
   * Implementation notes. The server accepts plain TCP sockets on the RpcServer's accept thread and
   * layers TLS over each on the connection's own thread (RpcServer.listen's Acceptor.open),
   * so a client that connects and stays silent, speaks plain TCP, or presents a bad certificate
   * holds up nobody else. A watchdog virtual thread closes the socket when the handshake outlives
   * handshake_timeout; the handshake then fails and the connection is refused. Each side presents
   * its one certificate whatever CAs the peer asks for (as Go's TLS stack does), so a client with a
   * certificate from the wrong CA is refused by the server with a clear reason, not by sending none.
   */
  private static final Logger log = LoggerFactory.getLogger(Tls.class);
  private static final String[] PROTOCOLS = {"TLSv1.3"};

  private Tls() {}

  /**
   * Loads a CA, a certificate and its key as {@link #listen} and {@link #dial} do, and checks that
   * they are usable: the files parse, the certificates are currently valid, and the key belongs to
   * the certificate. The one check of TLS files: {@code configcheck} runs its four parts ({@link
   * #checkCa}, {@link #checkCert}, {@link #checkKey}, {@link #checkPair}) one by one, to report
   * each problem at the config key that names the file.
   *
   * @throws IOException naming the file and the problem
   */
  public static void check(Path ca, Path cert, Path key) throws IOException {
    checkCa(ca);
    checkCert(cert);
    checkKey(key);
    checkPair(cert, key);
  }

  /**
   * Checks a CA file: it holds PEM certificates, each currently valid.
   *
   * @throws IOException naming the file and the problem
   */
  public static void checkCa(Path ca) throws IOException {
    for (X509Certificate c : Pem.certificates(ca)) {
      checkValidity(ca, c);
    }
  }

  /**
   * Checks a certificate file: it holds PEM certificates, the first (the leaf) currently valid.
   *
   * @throws IOException naming the file and the problem
   */
  public static void checkCert(Path cert) throws IOException {
    checkValidity(cert, Pem.certificates(cert).get(0));
  }

  /**
   * Checks a private key file: it holds an unencrypted key in PKCS#8, PKCS#1 or SEC1 form.
   *
   * @throws IOException naming the file and the problem
   */
  public static void checkKey(Path key) throws IOException {
    Pem.privateKey(key);
  }

  /**
   * Checks that the key in {@code key} belongs to the first certificate in {@code cert}.
   *
   * @throws IOException naming the files and the problem
   */
  public static void checkPair(Path cert, Path key) throws IOException {
    checkKeyMatches(cert, Pem.certificates(cert).get(0), key, Pem.privateKey(key));
  }

  /**
   * Listens for mutual-TLS connections on {@code address} and serves each with the client
   * certificate's CN as its identity. A refused connection (handshake failure or timeout, a
   * certificate from another CA, a CN not in {@code client_cns}) is closed and logged at WARN; the
   * listener goes on serving. Closing the listener (or the server) stops accepting.
   *
   * @throws IOException if a PEM file cannot be loaded (naming it) or the address cannot be bound
   */
  public static RpcServer.RpcListener listen(
      RpcServer server, InetSocketAddress address, TlsServerSettings s) throws IOException {
    SSLContext ctx = context(s.ca(), s.cert(), s.key());
    Set<String> admitted = Set.copyOf(s.clientCns());
    Duration timeout = s.handshakeTimeout();
    var ss = new ServerSocket();
    try {
      ss.setReuseAddress(true);
      ss.bind(address, 128);
    } catch (IOException | RuntimeException e) {
      ss.close();
      throw e;
    }
    log.info("tls: listening on {}", ss.getLocalSocketAddress());
    return server.listen(
        ss.getLocalSocketAddress(),
        ss,
        new RpcServer.Acceptor<Socket>() {
          @Override
          public Socket accept() throws IOException {
            return ss.accept();
          }

          @Override
          public Optional<RpcServer.Accepted> open(Socket raw) throws IOException {
            String peer = String.valueOf(raw.getRemoteSocketAddress());
            var tls =
                (SSLSocket) ctx.getSocketFactory().createSocket(raw, null, /* autoClose= */ true);
            tls.setUseClientMode(false);
            tls.setEnabledProtocols(PROTOCOLS);
            tls.setNeedClientAuth(true);
            try {
              handshake(tls, timeout);
            } catch (IOException e) {
              log.warn(
                  "tls: refusing connection from {}: handshake failed: {}", peer, e.getMessage());
              return Optional.empty();
            }
            X509Certificate client = (X509Certificate) tls.getSession().getPeerCertificates()[0];
            String cn = commonName(client.getSubjectX500Principal());
            if (cn == null || !admitted.contains(cn)) {
              log.warn(
                  "tls: refusing connection from {}: client certificate CN {} is not in client_cns",
                  peer,
                  cn == null ? "(none)" : "'" + cn + "'");
              return Optional.empty();
            }
            return Optional.of(
                new RpcServer.Accepted(Transport.of(tls), new Caller(cn, "tls:" + peer)));
          }
        });
  }

  /**
   * Dials a TLS server and opens an RPC client over the connection; the caller closes it.
   *
   * @param dialTimeout bounds the TCP connect and, separately, the TLS handshake
   * @throws IOException if a PEM file cannot be loaded (naming it), the connection or handshake
   *     fails, the server's certificate does not name {@code server_cn}, or the server refuses this
   *     client (seen when the protocol version is negotiated; the message says "refused this
   *     client")
   */
  public static RpcClient dial(
      String host, int port, TlsClientSettings c, Duration dialTimeout, RpcOptions options)
      throws IOException {
    SSLContext ctx = context(c.ca(), c.cert(), c.key());
    var raw = new Socket();
    try {
      raw.connect(new InetSocketAddress(host, port), millis(dialTimeout));
      var tls = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, true);
      tls.setUseClientMode(true);
      tls.setEnabledProtocols(PROTOCOLS);
      tls.setSoTimeout(millis(dialTimeout));
      try {
        tls.startHandshake();
      } catch (SSLHandshakeException e) {
        // a certificate the other side does not accept (or that we do not): not a network error
        throw new RefusedException(
            "tls: handshake with " + host + ":" + port + " failed: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new IOException(
            "tls: handshake with " + host + ":" + port + " failed: " + e.getMessage(), e);
      }
      tls.setSoTimeout(0);
      var server = (X509Certificate) tls.getSession().getPeerCertificates()[0];
      if (!names(server, c.serverCn())) {
        throw new RefusedException(
            "tls: server "
                + host
                + ":"
                + port
                + " presented a certificate for "
                + describe(server)
                + ", not for server_cn '"
                + c.serverCn()
                + "'",
            null);
      }
      try {
        return RpcClient.connect(Transport.of(tls), options);
      } catch (SSLException | EOFException | SocketException e) {
        // With TLS 1.3 the client's handshake completes before the server has checked the
        // client's certificate and CN, so a refusal arrives here: as an alert (another CA) or as a
        // closed or reset connection (a CN not in client_cns). Without this, a job's status said
        // "java.io.EOFException: stream ended".
        throw new RefusedException(
            "tls: "
                + host
                + ":"
                + port
                + " refused this client after the handshake (is its certificate signed by the"
                + " server's ca, and its CN in the server's client_cns?): "
                + e,
            e);
      }
    } catch (IOException | RuntimeException e) {
      raw.close();
      throw e;
    }
  }

  private static int millis(Duration d) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, d.toMillis()));
  }

  /** Runs the handshake; a watchdog closes the socket if it takes longer than {@code timeout}. */
  private static void handshake(SSLSocket tls, Duration timeout) throws IOException {
    var state = new AtomicInteger(); // 0 running, 1 done, 2 timed out
    Thread watchdog =
        Thread.ofVirtual()
            .name("tls-handshake-watchdog")
            .start(
                () -> {
                  try {
                    Thread.sleep(timeout);
                  } catch (InterruptedException e) {
                    return; // the handshake ended first
                  }
                  if (state.compareAndSet(0, 2)) {
                    try {
                      tls.close();
                    } catch (IOException e) {
                      log.debug("tls: close after handshake timeout: {}", e.toString());
                    }
                  }
                });
    try {
      tls.startHandshake();
    } catch (IOException e) {
      if (state.get() == 2) {
        throw new IOException("no handshake within " + timeout, e);
      }
      throw e;
    } finally {
      watchdog.interrupt();
    }
    if (!state.compareAndSet(0, 1)) {
      throw new IOException("no handshake within " + timeout);
    }
  }

  // ------------------------------------------------------------------------- certificates, keys

  /**
   * A TLS context that presents {@code cert} (with {@code key}) and trusts only the CAs in {@code
   * ca}; also used by the daemon's tcp log outlet.
   *
   * @throws IOException naming the file that cannot be loaded, or a key that does not belong to the
   *     certificate
   */
  public static SSLContext context(Path ca, Path cert, Path key) throws IOException {
    List<X509Certificate> cas = Pem.certificates(ca);
    List<X509Certificate> chain = Pem.certificates(cert);
    PrivateKey k = Pem.privateKey(key);
    checkKeyMatches(cert, chain.get(0), key, k);
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      for (int i = 0; i < cas.size(); i++) {
        trust.setCertificateEntry("ca" + i, cas.get(i));
      }
      var tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(trust);
      X509ExtendedTrustManager pkix = null;
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509ExtendedTrustManager x) {
          pkix = x;
        }
      }
      if (pkix == null) {
        throw new GeneralSecurityException("the JDK's PKIX trust manager is missing");
      }
      SSLContext ctx = SSLContext.getInstance("TLSv1.3");
      ctx.init(
          new KeyManager[] {new OneKey(k, chain.toArray(X509Certificate[]::new))},
          new TrustManager[] {new Explaining(pkix, cas, ca)},
          null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IOException(
          "tls: cannot set up TLS with ca " + ca + ", cert " + cert + ": " + e.getMessage(), e);
    }
  }

  private static void checkValidity(Path file, X509Certificate c) throws IOException {
    try {
      c.checkValidity();
    } catch (GeneralSecurityException e) {
      throw new IOException(
          file + ": certificate " + describe(c) + " is not valid now: " + e.getMessage(), e);
    }
  }

  private static void checkKeyMatches(
      Path certFile, X509Certificate cert, Path keyFile, PrivateKey key) throws IOException {
    String alg =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
          default -> "";
        };
    if (alg.isEmpty()) {
      return;
    }
    boolean ok;
    try {
      byte[] probe = "zrepl4j key check".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(alg);
      signer.initSign(key);
      signer.update(probe);
      byte[] sig = signer.sign();
      Signature verifier = Signature.getInstance(alg);
      verifier.initVerify(cert.getPublicKey());
      verifier.update(probe);
      ok = verifier.verify(sig);
    } catch (GeneralSecurityException e) {
      ok = false;
    }
    if (!ok) {
      throw new IOException(
          "key " + keyFile + " does not belong to the certificate in " + certFile);
    }
  }

  static @Nullable String commonName(X500Principal p) {
    try {
      for (Rdn rdn : new LdapName(p.getName(X500Principal.RFC2253)).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          return String.valueOf(rdn.getValue());
        }
      }
    } catch (InvalidNameException e) {
      return null;
    }
    return null;
  }

  private static List<String> dnsNames(X509Certificate c) {
    var out = new ArrayList<String>();
    try {
      Collection<List<?>> sans = c.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          if (san.size() >= 2 && Integer.valueOf(2).equals(san.get(0))) {
            out.add(String.valueOf(san.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      log.debug("tls: unreadable subject alternative names: {}", e.toString());
    }
    return out;
  }

  private static boolean names(X509Certificate c, String name) {
    if (name.equals(commonName(c.getSubjectX500Principal()))) {
      return true;
    }
    for (String dns : dnsNames(c)) {
      if (dns.equalsIgnoreCase(name)) {
        return true;
      }
    }
    return false;
  }

  private static String describe(X509Certificate c) {
    String cn = commonName(c.getSubjectX500Principal());
    return "CN=" + (cn == null ? "(none)" : cn) + ", DNS SANs " + dnsNames(c);
  }

  /**
   * Why {@code peer}'s certificate chain was not trusted, in words an operator can act on: expired,
   * not yet valid, self-signed, or not issued by the configured CA; otherwise the JDK's reason.
   */
  static String whyUntrusted(
      String role,
      X509Certificate[] peer,
      List<X509Certificate> cas,
      Path caFile,
      Instant now,
      CertificateException e) {
    if (peer.length == 0) {
      return role + " sent no certificate";
    }
    X509Certificate leaf = peer[0];
    String what =
        role
            + " certificate "
            + describe(leaf)
            + " (issuer "
            + leaf.getIssuerX500Principal().getName()
            + ", valid "
            + leaf.getNotBefore().toInstant()
            + " to "
            + leaf.getNotAfter().toInstant()
            + ")";
    if (now.isAfter(leaf.getNotAfter().toInstant())) {
      return what + " expired on " + leaf.getNotAfter().toInstant();
    }
    if (now.isBefore(leaf.getNotBefore().toInstant())) {
      return what + " is not yet valid: valid from " + leaf.getNotBefore().toInstant();
    }
    boolean issuedByCa = false;
    for (X509Certificate ca : cas) {
      if (ca.getSubjectX500Principal().equals(leaf.getIssuerX500Principal())) {
        issuedByCa = true;
      }
    }
    if (!issuedByCa && leaf.getSubjectX500Principal().equals(leaf.getIssuerX500Principal())) {
      return what + " is self-signed, not issued by the configured ca " + caFile;
    }
    if (!issuedByCa) {
      return what + " is not issued by the configured ca " + caFile;
    }
    return what + " is not trusted: " + e.getMessage();
  }

  /**
   * The JDK's PKIX checks, with a refusal that says why ({@link #whyUntrusted}). The cause stays
   * the JDK's, so the TLS alert sent to the peer is the same as without this wrapper.
   */
  private static final class Explaining extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager pkix;
    private final List<X509Certificate> cas;
    private final Path caFile;

    Explaining(X509ExtendedTrustManager pkix, List<X509Certificate> cas, Path caFile) {
      this.pkix = pkix;
      this.cas = List.copyOf(cas);
      this.caFile = caFile;
    }

    /** A check of the JDK's trust manager. */
    private interface Check {
      void run() throws CertificateException;
    }

    /** Runs {@code check}; a refusal is rethrown saying why in words an operator can act on. */
    private void explained(String role, X509Certificate[] chain, Check check)
        throws CertificateException {
      try {
        check.run();
      } catch (CertificateException e) {
        throw explain(role, chain, e);
      }
    }

    private CertificateException explain(
        String role, X509Certificate[] chain, CertificateException e) {
      var x = new CertificateException(whyUntrusted(role, chain, cas, caFile, Instant.now(), e));
      x.initCause(e.getCause() != null ? e.getCause() : e);
      return x;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      explained("client", chain, () -> pkix.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      explained("server", chain, () -> pkix.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      explained("client", chain, () -> pkix.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      explained("server", chain, () -> pkix.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      explained("client", chain, () -> pkix.checkClientTrusted(chain, authType));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      explained("server", chain, () -> pkix.checkServerTrusted(chain, authType));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return pkix.getAcceptedIssuers();
    }
  }

  /** Presents one certificate chain, whatever key types or CAs the peer asks for. */
  private static final class OneKey extends X509ExtendedKeyManager {
    private static final String ALIAS = "zrepl4j";
    private final PrivateKey key;
    private final X509Certificate[] chain;

    OneKey(PrivateKey key, X509Certificate[] chain) {
      this.key = key;
      this.chain = chain;
    }

    private @Nullable String alias(@Nullable String keyType) {
      return keyType == null || keyType.equals(key.getAlgorithm()) ? ALIAS : null;
    }

    private @Nullable String alias(String @Nullable [] keyTypes) {
      if (keyTypes == null) {
        return ALIAS;
      }
      for (String t : keyTypes) {
        if (alias(t) != null) {
          return ALIAS;
        }
      }
      return null;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal @Nullable [] issuers) {
      return new String[] {ALIAS};
    }

    @Override
    public @Nullable String chooseClientAlias(
        String @Nullable [] keyType, Principal @Nullable [] issuers, @Nullable Socket socket) {
      return alias(keyType);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal @Nullable [] issuers) {
      return new String[] {ALIAS};
    }

    @Override
    public @Nullable String chooseServerAlias(
        @Nullable String keyType, Principal @Nullable [] issuers, @Nullable Socket socket) {
      return alias(keyType);
    }

    @Override
    public @Nullable String chooseEngineClientAlias(
        String @Nullable [] keyType, Principal @Nullable [] issuers, @Nullable SSLEngine engine) {
      return alias(keyType);
    }

    @Override
    public @Nullable String chooseEngineServerAlias(
        @Nullable String keyType, Principal @Nullable [] issuers, @Nullable SSLEngine engine) {
      return alias(keyType);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return chain.clone();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      return key;
    }
  }
}
