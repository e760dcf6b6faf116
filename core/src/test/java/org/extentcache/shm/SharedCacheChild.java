package org.extentcache.shm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A process that uses a {@link SharedCache}, scripted by a test over its stdin and stdout, one command a line; every
 * command answers one line starting {@code ok} or {@code err}. Other lines it prints: {@code progress <ops>} while a
 * model run goes, and {@code # ...} notes (the first errors of a model run).
 *
 * <pre>
 *   join PATH FRAMES LEASE_MS CLIENT_SLOTS    ok slot=S created=B pid=P
 *   load KEY                                  ok handle=H        (stamp loader; the page read back and checked)
 *   pin KEY                                   ok handle=H frame=F (load, pin, check the view; held until unpinall)
 *   hang KEY                                  ok frame=F         (a thread loads KEY with a loader that writes
 *                                                                 garbage over half the page and blocks forever)
 *   read KEY                                  ok hit | ok miss | ok stale | err wrong bytes ...
 *   check                                     ok pinned=N        (every pinned view still holds its key's stamp)
 *   unpinall                                  ok unpinned=N
 *   stats                                     ok ready=.. loading=.. ... (SharedCacheStats)
 *   model SEED OPS KEYS THREADS PROGRESS      ok ops=.. errors=.. ... (SharedCacheProcessModelTest)
 *   holdlock                                  ok holding         (takes the allocation lock and empties the index)
 *   close                                     ok closed
 *   exit                                      (exits 0)
 * </pre>
 * Started by {@link ChildProcess}; every page it loads is {@link PageStamps}'s, so it checks every byte it reads.
 */
public final class SharedCacheChild
{
    private final PrintStream out;
    private SharedCache cache;
    private Path path;
    private final List<SharedPage> pinned = new ArrayList<>();

    private SharedCacheChild(final PrintStream out)
    {
        this.out = out;
    }

    public static void main(final String[] args) throws IOException
    {
        final PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        final SharedCacheChild child = new SharedCacheChild(out);
        final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); null != line; line = in.readLine())
        {
            final String[] words = line.trim().split("\\s+");
            if ("exit".equals(words[0]))
            {
                break;
            }
            String reply;
            try
            {
                reply = child.run(words);
            }
            catch (final Exception | Error ex)
            {
                ex.printStackTrace();
                reply = "err " + ex;
            }
            synchronized (out)
            {
                out.println(reply.replace('\n', ' '));
            }
        }
        System.exit(0); // hanging loaders never end by themselves
    }

    private String run(final String[] words) throws Exception
    {
        switch (words[0])
        {
            case "join":
                path = Path.of(words[1]);
                cache = SharedCache.builder(path).frames(Integer.parseInt(words[2]))
                    .leaseMillis(Long.parseLong(words[3])).clientSlots(Integer.parseInt(words[4]))
                    .leakReporter(message -> note("leak reporter: " + message)).join();
                return "ok slot=" + cache.clientSlot() + " created=" + cache.created() + " pid=" +
                    ProcessHandle.current().pid();
            case "load":
            {
                final long key = Long.parseLong(words[1]);
                final long handle = cache.load(key, PageStamps::fill);
                final String wrong = readAndCheck(key, handle);
                return null == wrong ? "ok handle=" + handle : "err wrong bytes " + wrong;
            }
            case "pin":
            {
                final long key = Long.parseLong(words[1]);
                final long handle = cache.load(key, PageStamps::fill);
                final SharedPage page = cache.pin(handle);
                if (null == page)
                {
                    return "err stale right after load: handle=" + handle;
                }
                pinned.add(page);
                final String wrong = PageStamps.check(key, page.buffer(), cache.pageSize());
                return null == wrong ? "ok handle=" + handle + " frame=" + SharedCache.frameOf(handle) :
                    "err wrong bytes " + wrong;
            }
            case "hang":
                return hang(Long.parseLong(words[1]));
            case "read":
            {
                final long key = Long.parseLong(words[1]);
                final long handle = cache.lookup(key);
                if (SharedCache.NO_HANDLE == handle)
                {
                    return "ok miss";
                }
                final ByteBuffer copy = ByteBuffer.allocate(cache.pageSize());
                if (!cache.read(handle, 0, copy, cache.pageSize()))
                {
                    return "ok stale";
                }
                final String wrong = PageStamps.check(key, copy, 0, 0, cache.pageSize());
                return null == wrong ? "ok hit" : "err wrong bytes " + wrong;
            }
            case "check":
                for (final SharedPage page : pinned)
                {
                    final String wrong = PageStamps.check(page.key(), page.buffer(), cache.pageSize());
                    if (null != wrong)
                    {
                        return "err pinned view changed: " + wrong;
                    }
                }
                return "ok pinned=" + pinned.size();
            case "unpinall":
            {
                final int count = pinned.size();
                pinned.forEach(SharedPage::close);
                pinned.clear();
                return "ok unpinned=" + count;
            }
            case "stats":
                return "ok " + cache.stats();
            case "model":
                return new ProcessModel(cache, Long.parseLong(words[1]), Integer.parseInt(words[2]),
                    Integer.parseInt(words[3]), Integer.parseInt(words[4]), Integer.parseInt(words[5]), this::line)
                    .run();
            case "holdlock":
            {
                final SharedFileInspector raw = new SharedFileInspector(path);
                raw.takeLockFor(cache.clientSlot());
                raw.emptyIndex();
                return "ok holding";
            }
            case "close":
                pinned.clear(); // close revokes and reports them
                cache.close();
                return "ok closed";
            default:
                return "err unknown command " + words[0];
        }
    }

    private String readAndCheck(final long key, final long handle)
    {
        final ByteBuffer copy = ByteBuffer.allocate(cache.pageSize());
        if (!cache.read(handle, 0, copy, cache.pageSize()))
        {
            return null; // reclaimed by another process already: nothing read, nothing wrong
        }
        return PageStamps.check(key, copy, 0, 0, cache.pageSize());
    }

    /** Starts a load of {@code key} whose loader writes garbage over half the page and then blocks for ever. */
    private String hang(final long key) throws InterruptedException
    {
        final CountDownLatch inLoader = new CountDownLatch(1);
        final AtomicInteger frame = new AtomicInteger(-1);
        final Thread thread = new Thread(() ->
        {
            try
            {
                cache.load(key, (k, page) ->
                {
                    frame.set(page.position() / page.remaining()); // one chunk: offset / page size
                    PageStamps.garbageHalf(page);
                    inLoader.countDown();
                    while (true)
                    {
                        LockSupport.park();
                    }
                });
                note("hang " + key + ": the key was loaded already, the loader never ran");
            }
            catch (final IOException | RuntimeException ex)
            {
                note("hang " + key + ": " + ex);
            }
            inLoader.countDown();
        }, "hanging-load-" + key);
        thread.setDaemon(true);
        thread.start();
        if (!inLoader.await(30, TimeUnit.SECONDS) || frame.get() < 0)
        {
            return "err the hanging load of " + key + " never reached its loader";
        }
        return "ok frame=" + frame.get();
    }

    private void note(final String message)
    {
        line("# " + message);
    }

    private void line(final String line)
    {
        synchronized (out)
        {
            out.println(line);
        }
    }
}
