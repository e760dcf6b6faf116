package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.translate.FileBackedTranslator;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where {@link DeviceCache} reads missed blocks and writes dirty ones: one {@link BlockDevice} under every file, or
 * the files themselves ({@link FileBackedTranslator}). A load names the file page that missed, because for real
 * files that page's file is where the block can be read.
 */
interface BlockIo
{
    void read(long file, long page, long block, ByteBuffer dst) throws IOException;

    /**
     * Reads a run of pages of one file for readahead ({@link FileBackedTranslator#readBlocks}); only where
     * {@link #readsThroughFiles()}.
     */
    void readRun(long file, long firstPage, long[] blocks, ByteBuffer[] dsts, int count) throws IOException;

    void write(long block, ByteBuffer src) throws IOException;

    void sync() throws IOException;

    /**
     * Makes one file's written pages durable: the whole device's sync for a block device, the file's own for files.
     */
    void syncFile(long file) throws IOException;

    /**
     * @return true if a failed {@link #syncFile} of {@code file} can drop no other file's writes
     * ({@link FileBackedTranslator#syncsFileAlone}); false over a block device.
     */
    boolean syncsFileAlone(long file);

    /**
     * @return true if blocks are read through the file that missed them (a {@link FileBackedTranslator}), so a failed
     * read may be that file's own failure rather than the block's.
     */
    boolean readsThroughFiles();

    static BlockIo of(final BlockDevice device)
    {
        return new BlockIo()
        {
            @Override
            public boolean readsThroughFiles()
            {
                return false;
            }

            @Override
            public void read(final long file, final long page, final long block, final ByteBuffer dst)
                throws IOException
            {
                device.read(block, dst);
            }

            @Override
            public void readRun(final long file, final long firstPage, final long[] blocks, final ByteBuffer[] dsts,
                final int count)
            {
                throw new UnsupportedOperationException("no readahead over a block device");
            }

            @Override
            public void write(final long block, final ByteBuffer src) throws IOException
            {
                device.write(block, src);
            }

            @Override
            public void sync() throws IOException
            {
                device.sync();
            }

            @Override
            public void syncFile(final long file) throws IOException
            {
                device.sync();
            }

            @Override
            public boolean syncsFileAlone(final long file)
            {
                return false;
            }
        };
    }

    static BlockIo of(final FileBackedTranslator files)
    {
        return new BlockIo()
        {
            @Override
            public boolean readsThroughFiles()
            {
                return true;
            }

            @Override
            public void read(final long file, final long page, final long block, final ByteBuffer dst)
                throws IOException
            {
                files.readBlock(file, page, block, dst);
            }

            @Override
            public void readRun(final long file, final long firstPage, final long[] blocks, final ByteBuffer[] dsts,
                final int count) throws IOException
            {
                files.readBlocks(file, firstPage, blocks, dsts, count);
            }

            @Override
            public void write(final long block, final ByteBuffer src) throws IOException
            {
                files.writeBlock(block, src);
            }

            @Override
            public void sync() throws IOException
            {
                files.sync();
            }

            @Override
            public void syncFile(final long file) throws IOException
            {
                files.syncFile(file);
            }

            @Override
            public boolean syncsFileAlone(final long file)
            {
                return files.syncsFileAlone(file);
            }
        };
    }
}
