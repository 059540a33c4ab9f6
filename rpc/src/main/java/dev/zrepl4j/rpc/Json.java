package dev.zrepl4j.rpc;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.zrepl4j.rpc.frame.Limits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Type;
import java.net.ProtocolException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * All JSON of the RPC layer: the one place that knows Jackson.
 *
 * <p>Bodies use the seed's (Go's) conventions: property names in UpperCamelCase ({@code createTXG}
 * is written {@code CreateTXG}), matched case-insensitively when read, unknown properties ignored
 * (Go does the same), and a newline after the value. Strings are escaped byte for byte as the
 * seed's Go wrote them: {@code <>&} and U+2028/U+2029 as <code>&#92;u003c</code> etc. (lower-case
 * hex), control characters as <code>&#92;u00xx</code> except <code>&#92;n &#92;r &#92;t</code>
 * (backspace and form feed too, as Go before 1.22 wrote them), everything else, characters outside
 * the BMP included, as raw UTF-8. (Go's decoder and ours read either form; byte equality keeps our
 * bytes comparable with the seed's captures.) {@link Header} writes its own JSON the same way.
 */
final class Json {
  private static final ObjectMapper MAPPER = newMapper();

  private Json() {}

  private static ObjectMapper newMapper() {
    JsonFactory factory =
        new JsonFactoryBuilder()
            .characterEscapes(new GoEscapes())
            .disable(JsonWriteFeature.WRITE_HEX_UPPER_CASE)
            .enable(JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8)
            .build();
    return JsonMapper.builder(factory)
        .propertyNamingStrategy(PropertyNamingStrategies.UPPER_CAMEL_CASE)
        .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_PROPERTIES)
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
        .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
        .addModule(new JavaTimeModule())
        .build();
  }

  /**
   * Builds, ahead of their first use, the codec and the serializers and deserializers of {@code
   * types} (and of the hello): what a short-lived client's first call would otherwise build on its
   * way. Jackson caches them in the mapper; building one twice (this and a call racing it) is
   * harmless.
   */
  static void prepare(List<Type> types) {
    for (var t :
        java.util.stream.Stream.concat(java.util.stream.Stream.of(Hello.class), types.stream())
            .toList()) {
      var jt = type(t);
      MAPPER.canSerialize(jt.getRawClass());
      MAPPER.canDeserialize(jt);
    }
  }

  static JavaType type(Type t) {
    return MAPPER.getTypeFactory().constructType(t);
  }

  /** Encodes a body: JSON plus the newline Go's encoder appends. */
  static byte[] write(@Nullable Object value) throws IOException {
    var out = new ByteArrayOutputStream(256);
    MAPPER.writeValue(out, value);
    out.write('\n');
    return out.toByteArray();
  }

  /**
   * Decodes a body.
   *
   * @throws IOException naming what did not fit
   */
  static @Nullable Object read(byte[] json, JavaType type) throws IOException {
    return MAPPER.readValue(json, type);
  }

  /** Converts a value to another type through its JSON form (local calls with unlike types). */
  static @Nullable Object convert(@Nullable Object value, JavaType type) {
    return MAPPER.convertValue(value, type);
  }

  /**
   * Decodes a header: the five seed keys and the extension key {@code Code}; other keys are
   * ignored, as the seed does.
   *
   * @throws ProtocolException if it is not a JSON object of that shape
   */
  static Header readHeader(byte[] json) throws ProtocolException {
    String endpoint = "";
    long dataType = 0;
    long accept = 0;
    long error = 0;
    String message = "";
    ErrorCode code = null;
    try (JsonParser p = MAPPER.getFactory().createParser(json)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new ProtocolException("header is not a JSON object");
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        switch (name) {
          case "Endpoint" -> endpoint = string(p, v, name);
          case "DataType" -> dataType = number(p, v, name);
          case "Accept" -> accept = number(p, v, name);
          case "Error" -> error = number(p, v, name);
          case "ErrorMessage" -> message = string(p, v, name);
          case "Code" -> {
            String c = string(p, v, name);
            try {
              code = ErrorCode.valueOf(c);
            } catch (IllegalArgumentException e) {
              code = ErrorCode.UNKNOWN;
            }
          }
          default -> p.skipChildren();
        }
      }
      if (t != JsonToken.END_OBJECT) {
        throw new ProtocolException("header: malformed JSON object");
      }
      if (p.nextToken() != null) {
        throw new ProtocolException("header: trailing data after the JSON object");
      }
    } catch (ProtocolException e) {
      throw e;
    } catch (IOException e) {
      throw new ProtocolException(
          "header is not valid JSON: "
              + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
    }
    try {
      return new Header(
          endpoint, DataType.of(dataType), DataType.of(accept), Status.of(error), message, code);
    } catch (IllegalArgumentException e) {
      throw new ProtocolException("header: " + e.getMessage());
    }
  }

  private static final List<String> HEADER_KEYS =
      List.of("endpoint", "datatype", "accept", "error", "errormessage");

  /**
   * Whether the seed, reading {@code json} (a body we sent) as a request header, sees a header with
   * every key unset: {@code null} or a JSON object without any of the five header keys (Go matches
   * keys case-insensitively, with Unicode folding), shorter than the header limit.
   */
  static boolean readsAsEmptyHeader(byte[] json) {
    if (json.length >= Limits.MAX_HEADER_MESSAGE) {
      return false;
    }
    try (JsonParser p = MAPPER.getFactory().createParser(json)) {
      JsonToken first = p.nextToken();
      if (first == JsonToken.VALUE_NULL) {
        return p.nextToken() == null;
      }
      if (first != JsonToken.START_OBJECT) {
        return false;
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        // Go's folding also maps the Kelvin sign to k and the long s to s
        String key = p.currentName().replace('\u212A', 'k').replace('\u017F', 's');
        for (String h : HEADER_KEYS) {
          if (key.equalsIgnoreCase(h)) {
            return false;
          }
        }
        p.nextToken();
        p.skipChildren();
      }
      return t == JsonToken.END_OBJECT && p.nextToken() == null;
    } catch (IOException e) {
      return false;
    }
  }

  private static String string(JsonParser p, JsonToken v, String name) throws IOException {
    if (v != JsonToken.VALUE_STRING) {
      throw new ProtocolException("header key " + name + " is not a string");
    }
    return p.getText();
  }

  private static long number(JsonParser p, JsonToken v, String name) throws IOException {
    if (v != JsonToken.VALUE_NUMBER_INT) {
      throw new ProtocolException("header key " + name + " is not an integer");
    }
    return p.getLongValue();
  }

  /**
   * Go's HTML-safe escaping of {@code < > &} and U+2028/U+2029; backspace and form feed as Go 1.9.
   */
  private static final class GoEscapes extends CharacterEscapes {
    private static final long serialVersionUID = 1L;
    private final int[] table = standardAsciiEscapesForJSON();

    GoEscapes() {
      table['<'] = ESCAPE_STANDARD;
      table['>'] = ESCAPE_STANDARD;
      table['&'] = ESCAPE_STANDARD;
      table['\b'] = ESCAPE_STANDARD;
      table['\f'] = ESCAPE_STANDARD;
    }

    @Override
    public int[] getEscapeCodesForAscii() {
      return table;
    }

    @Override
    public @Nullable SerializableString getEscapeSequence(int ch) {
      if (ch == 0x2028 || ch == 0x2029) {
        return new SerializedString(String.format("\\u%04x", ch));
      }
      return null;
    }
  }
}
