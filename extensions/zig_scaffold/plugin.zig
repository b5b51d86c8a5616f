//! zig_scaffold: a proxy-wasm plugin written in Zig directly on the ABI (no SDK).
//! Logs on VM start and configure, adds the request header `wasm-test: wasm-value`, and at
//! access-log time reads that header back through the header map and through the
//! `request.headers` property and logs all request headers.
const pw = @import("proxy_wasm.zig");

export fn proxy_on_context_create(context_id: u32, parent_id: u32) void {
    if (parent_id == 0) pw.log(.info, "zig_scaffold: root context {d} created", .{context_id});
}

export fn proxy_on_vm_start(context_id: u32, vm_config_size: u32) u32 {
    pw.log(.info, "zig_scaffold: vm started (root {d}, vm config {d} bytes)", .{ context_id, vm_config_size });
    return 1;
}

export fn proxy_on_configure(context_id: u32, size: u32) u32 {
    _ = context_id;
    if (pw.getBuffer(.plugin_configuration, size)) |config| {
        defer config.deinit();
        pw.log(.info, "zig_scaffold: configured with '{s}'", .{config.slice});
    }
    return 1;
}

export fn proxy_on_request_headers(context_id: u32, headers: u32, end_of_stream: u32) u32 {
    _ = end_of_stream;
    pw.log(.debug, "zig_scaffold: stream {d}: {d} request headers", .{ context_id, headers });
    _ = pw.addHeader(.request_headers, "wasm-test", "wasm-value");
    return 0; // Continue
}

export fn proxy_on_response_headers(context_id: u32, headers: u32, end_of_stream: u32) u32 {
    _ = end_of_stream;
    pw.log(.debug, "zig_scaffold: stream {d}: {d} response headers", .{ context_id, headers });
    return 0;
}

export fn proxy_on_log(context_id: u32) void {
    if (pw.getHeader(.request_headers, "wasm-test")) |v| {
        defer v.deinit();
        pw.log(.info, "zig_scaffold: stream {d}: header wasm-test={s}", .{ context_id, v.slice });
    }
    if (pw.getProperty("request\x00headers\x00wasm-test")) |v| {
        defer v.deinit();
        pw.log(.info, "zig_scaffold: stream {d}: property request.headers.wasm-test={s}", .{ context_id, v.slice });
    }
    if (pw.getHeaderPairs(.request_headers)) |pairs| {
        defer pairs.deinit();
        var it = pw.PairIterator.init(pairs.slice);
        pw.log(.info, "zig_scaffold: stream {d}: {d} request headers", .{ context_id, it.count });
        while (it.next()) |p| pw.log(.info, "zig_scaffold:   {s}: {s}", .{ p.key, p.value });
    }
}

export fn proxy_on_done(context_id: u32) u32 {
    _ = context_id;
    return 1;
}

export fn proxy_on_delete(context_id: u32) void {
    _ = context_id;
}
